"""`python -m tests.cluster up`: a test cluster for a human, until Ctrl-C.

Prints the kubeconfig path (use KUBECONFIG=... kubectl/helm), then blocks; on Ctrl-C or
SIGTERM everything is stopped and the run directory keeps the logs.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time

from tests.cluster import agent
from tests.cluster.binaries import Binaries
from tests.cluster.cluster import DEFAULT_NODES, Cluster


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.cluster")
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start a cluster and block until Ctrl-C")
    up.add_argument("--node", action="append", help="NAME:cpu=16,memory=64Gi,nvidia.com/gpu=4")
    up.add_argument("--no-scheduler", action="store_true", help="the agent binds pods itself")
    sub.add_parser("binaries", help="print the resolved binary paths")
    sub.add_parser("agent", help="run the node agent (arguments: see agent --help)", add_help=False)
    args, rest = parser.parse_known_args(argv)

    if args.command == "agent":
        return agent.main(rest)

    if args.command == "binaries":
        for name, path in vars(Binaries.find()).items():
            print(f"{name}={path}")
        return 0

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    # Ctrl-C must stop the cluster even when started from a shell that ignores SIGINT.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    c = Cluster(nodes=args.node or DEFAULT_NODES, scheduler=not args.no_scheduler)
    with c:
        print(f"cluster ready in {c.started_seconds:.1f}s: {c.server}", file=sys.stderr)
        print(f"logs: {c.log_dir}", file=sys.stderr)
        print(f"pod logs: {c.pod_dir}", file=sys.stderr)
        print(f"export KUBECONFIG={c.kubeconfig}", file=sys.stderr)
        print(c.kubeconfig, flush=True)
        try:
            while True:
                c.check_healthy()
                time.sleep(1)
        except KeyboardInterrupt:
            print("stopping", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

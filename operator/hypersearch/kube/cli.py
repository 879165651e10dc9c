"""``hypersearch operator``: run the operator against the current kubeconfig (or in-cluster).

``add_operator_command(subparsers)`` registers the subcommand on the main CLI;
``python -m hypersearch.kube`` runs the same thing on its own.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
from collections.abc import Sequence

EXIT_LOST_LEASE = 3


def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--namespace",
        "-n",
        action="append",
        default=[],
        help="watch only this namespace (repeatable; default: all namespaces)",
    )
    p.add_argument("--kubeconfig", help="kubeconfig file (default: in-cluster, else $KUBECONFIG)")
    p.add_argument("--context", help="kubeconfig context")
    p.add_argument(
        "--metrics-port", type=int, default=8080, help="port of the operator's /metrics (0: off)"
    )
    p.add_argument("--metrics-host", default="0.0.0.0", help="bind address of /metrics")
    p.add_argument(
        "--lease-namespace",
        help="namespace of the leader-election Lease (default: $POD_NAMESPACE, else the first "
        "--namespace, else default)",
    )
    p.add_argument("--lease-name", default="hypersearch-operator", help="Lease name")
    p.add_argument("--lease-seconds", type=int, default=15, help="lease duration (seconds, 15)")
    p.add_argument("--no-leader-election", action="store_true", help="act without a Lease")
    p.add_argument(
        "--startup-grace",
        type=float,
        default=90.0,
        help="seconds a running trial's metrics endpoint may stay silent (90)",
    )
    p.add_argument("--verbose", "-v", action="store_true", help="debug logging")


def add_operator_command(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:  # type: ignore[type-arg]
    """Register ``hypersearch operator`` on the main CLI's subparsers."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "operator", help="run the Kubernetes operator against the current kubeconfig"
    )
    _add_arguments(p)
    p.set_defaults(func=run_operator)
    return p


def run_operator(args: argparse.Namespace) -> int:
    """Take the lease, then run Kopf until interrupted (0) or the lease is lost (3)."""
    import kopf
    from prometheus_client import start_http_server

    from hypersearch.kube import handlers
    from hypersearch.kube.api import Kube, load_client
    from hypersearch.kube.controller import Options
    from hypersearch.kube.leader import Leader

    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    if args.kubeconfig:
        os.environ["KUBECONFIG"] = args.kubeconfig  # Kopf's own login reads it
    api = load_client(args.kubeconfig or os.environ.get("KUBECONFIG"), args.context)
    handlers.RUNTIME.kube = Kube(api)
    handlers.RUNTIME.options = Options(startup_grace=args.startup_grace)
    handlers.RUNTIME.namespaced = bool(args.namespace)
    if args.metrics_port:
        start_http_server(args.metrics_port, addr=args.metrics_host)

    stop = threading.Event()
    leader: Leader | None = None
    keeper: threading.Thread | None = None
    if not args.no_leader_election:
        lease_ns = (
            args.lease_namespace
            or os.environ.get("POD_NAMESPACE")
            or (args.namespace[0] if args.namespace else "default")
        )
        leader = Leader(api, lease_ns, args.lease_name, lease_seconds=args.lease_seconds)
        try:
            if not leader.acquire(stop):
                return 0
        except KeyboardInterrupt:
            return 130
        keeper = threading.Thread(target=leader.keep, args=(stop, stop), daemon=True)
        keeper.start()
    try:
        kopf.run(
            standalone=True,
            clusterwide=not args.namespace,
            namespaces=args.namespace,
            stop_flag=stop,
        )
    finally:
        lost = leader is not None and leader.lost.is_set()
        stop.set()
        if leader is not None and not lost:
            leader.release()
    return EXIT_LOST_LEASE if leader is not None and leader.lost.is_set() else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m hypersearch.kube", description="Run the HyperSearch Kubernetes operator."
    )
    _add_arguments(parser)
    return run_operator(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())

"""``hypersearch operator``: run the operator against the current kubeconfig (or in-cluster).

``add_operator_command(subparsers)`` registers the subcommand on the main CLI;
``python -m hypersearch.kube`` runs the same thing on its own.
"""

from __future__ import annotations

import argparse
import asyncio
import faulthandler
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hypersearch.kube.leader import Leader

EXIT_LOST_LEASE = 3


def _add_arguments(p: argparse.ArgumentParser) -> None:
    from hypersearch.monitor.health import HealthPolicy

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
    defaults = HealthPolicy()
    for flag, field_, seconds in (
        ("--pending-timeout", "pendingSeconds", defaults.pending_seconds),
        ("--startup-grace", "startupSeconds", defaults.startup_seconds),
        ("--scrape-failure-timeout", "scrapeFailureSeconds", defaults.failure_seconds),
        ("--hang-timeout", "progressSeconds", defaults.progress_seconds),
        ("--terminating-timeout", "terminatingSeconds", defaults.terminating_seconds),
        ("--workload-condition-timeout", "workloadConditionSeconds", defaults.condition_seconds),
    ):
        p.add_argument(
            flag,
            type=float,
            default=seconds,
            help=f"default of spec.deadlines.{field_} for searches that leave it unset "
            f"(seconds, {seconds:g})",
        )
    p.add_argument(
        "--workload-kind",
        action="append",
        default=[],
        metavar="GROUP/VERSION/KIND",
        help="a stage-2 workload kind searches may use besides batch/v1/Job (repeatable, e.g. "
        "kubeflow.org/v1/PyTorchJob); keep it equal to the admission policy's list",
    )
    p.add_argument(
        "--manage-own-namespace",
        action="store_true",
        help="also run searches in the operator's own namespace ($POD_NAMESPACE); off by "
        "default, since pods there could act with the operator's ServiceAccount",
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
    from prometheus_client import start_http_server

    from hypersearch.kube import handlers
    from hypersearch.kube.api import Kube, load_client
    from hypersearch.kube.controller import Options
    from hypersearch.kube.leader import Leader
    from hypersearch.monitor.health import HealthPolicy

    faulthandler.register(signal.SIGUSR1)  # `kill -USR1` dumps every thread's stack
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    if args.kubeconfig:
        os.environ["KUBECONFIG"] = args.kubeconfig  # Kopf's own login reads it
    api = load_client(args.kubeconfig or os.environ.get("KUBECONFIG"), args.context)
    kube = handlers.RUNTIME.kube = Kube(api)
    own = os.environ.get("POD_NAMESPACE")
    handlers.RUNTIME.options = Options(
        deadlines=HealthPolicy(
            pending_seconds=args.pending_timeout,
            startup_seconds=args.startup_grace,
            failure_seconds=args.scrape_failure_timeout,
            progress_seconds=args.hang_timeout,
            terminating_seconds=args.terminating_timeout,
            condition_seconds=args.workload_condition_timeout,
        ),
        workload_kinds=frozenset(["batch/v1/Job", *args.workload_kind]),
        refused_namespace=None if args.manage_own_namespace else own,
    )
    handlers.RUNTIME.namespaced = bool(args.namespace)
    if args.metrics_port:
        start_http_server(args.metrics_port, addr=args.metrics_host)

    leader: Leader | None = None
    if not args.no_leader_election:
        lease_ns = (
            args.lease_namespace
            or os.environ.get("POD_NAMESPACE")
            or (args.namespace[0] if args.namespace else "default")
        )
        leader = Leader(api, lease_ns, args.lease_name, lease_seconds=args.lease_seconds)
        try:
            if not leader.acquire(threading.Event()):
                return 0
        except KeyboardInterrupt:
            return 130
        # No write of ours once the lease is lost or unconfirmed; renewal in its own thread,
        # so a busy event loop cannot starve it.
        kube.fence = leader.fenced
        leader.keep()
    try:
        asyncio.run(_serve(args, leader))
    finally:
        if leader is not None and not leader.lost.is_set():
            leader.release()
    return EXIT_LOST_LEASE if leader is not None and leader.lost.is_set() else 0


async def _serve(args: argparse.Namespace, leader: Leader | None) -> None:
    """Kopf in this loop, stopped by its own signal handling or by a lost lease.

    The lease is renewed from the leader's own thread (``Leader.keep``), which stops this
    loop through ``call_soon_threadsafe`` once the lease is lost; should the loop not wind
    down within ``max(30, 2 * lease)`` seconds (a stuck handler), the process exits hard with
    EXIT_LOST_LEASE. The stop flag is an asyncio.Event (a threading.Event would park a worker
    thread that blocks interpreter shutdown after SIGTERM).
    """
    import kopf

    stop = asyncio.Event()
    if leader is not None:
        loop = asyncio.get_running_loop()
        grace = max(30.0, 2.0 * leader.lease_seconds)

        def lost() -> None:
            loop.call_soon_threadsafe(stop.set)
            timer = threading.Timer(grace, os._exit, (EXIT_LOST_LEASE,))
            timer.daemon = True
            timer.start()

        leader.on_lost = lost
        if leader.lost.is_set():  # lost before the hook was in place
            stop.set()
    await kopf.operator(
        standalone=True,
        clusterwide=not args.namespace,
        namespaces=args.namespace,
        stop_flag=stop,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m hypersearch.kube", description="Run the HyperSearch Kubernetes operator."
    )
    _add_arguments(parser)
    return run_operator(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())

"""The ``hypersearch`` command line: validate manifests, run searches locally, start the operator."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from hypersearch.bench import search_quality
from hypersearch.kube.cli import add_operator_command
from hypersearch.spec import KIND, SpecInvalid, SpecWarning, check, load_documents, spec_warnings
from hypersearch.spec.model import SearchSpec, from_document

EXIT_INVALID = 2


def print_warnings(warnings: list[SpecWarning], prefix: str = "  ") -> None:
    """Settings the benchmark found poor, one line each on stderr, naming the field."""
    for warning in warnings:
        print(f"{prefix}warning: {warning}", file=sys.stderr)


def cmd_validate(args: argparse.Namespace) -> int:
    """Check manifests against the CRD schema and the semantic rules; report every error, and
    warn (exit code unchanged) about settings the benchmark found poor."""
    status = 0
    for path in args.files:
        try:
            docs = load_documents(path)
        except SpecInvalid as e:
            print(str(e), file=sys.stderr)
            status = EXIT_INVALID
            continue
        searches = [d for d in docs if isinstance(d, dict) and d.get("kind") == KIND]
        if not searches:
            print(f"{path}: no {KIND} object found", file=sys.stderr)
            status = EXIT_INVALID
        for doc in searches:
            name = doc.get("metadata", {}).get("name", "?")
            defaulted, errors = check(doc)
            if errors:
                status = EXIT_INVALID
                print(f"{path}: {KIND} {name!r} is invalid:", file=sys.stderr)
                for err in sorted(errors):
                    print(f"  {err}", file=sys.stderr)
                continue
            spec = from_document(defaulted)
            history_errors = _history_errors(spec, Path(path))
            if history_errors:
                status = EXIT_INVALID
                print(f"{path}: {KIND} {name!r} is invalid:", file=sys.stderr)
                for line in history_errors:
                    print(f"  {line}", file=sys.stderr)
                continue
            warnings = spec_warnings(spec)
            if warnings:
                print(
                    f"{path}: {KIND} {name!r} is valid, with {len(warnings)} warning(s) "
                    f"(settings docs/benchmarks.md measured to search poorly):"
                )
                sys.stdout.flush()
                print_warnings(warnings)
            else:
                print(f"{path}: {KIND} {name!r} is valid")
    return status


def _history_errors(spec: SearchSpec, manifest: Path) -> list[str]:
    """The earlier searches of ``spec.stage1.history`` read and checked; every problem."""
    if not spec.history.searches:
        return []
    from hypersearch.local.history import load_history

    return load_history(spec, manifest.parent)[1]


def cmd_run(args: argparse.Namespace) -> int:
    """Run a whole two-stage search on this machine, then print the winners."""
    from hypersearch.local import LocalRunner, RunOptions
    from hypersearch.local.runner import RunError
    from hypersearch.local.state import StateFileError
    from hypersearch.monitor import TemplateError
    from hypersearch.spec import load_file

    try:
        spec = load_file(args.file)
    except SpecInvalid as e:
        print(str(e), file=sys.stderr)
        return EXIT_INVALID
    from hypersearch.local.history import load_history

    history, history_errors = load_history(spec, Path(args.file).parent)
    if history_errors:
        print(f"{args.file}: spec.stage1.history cannot be used:", file=sys.stderr)
        for line in history_errors:
            print(f"  {line}", file=sys.stderr)
        return EXIT_INVALID
    warnings = spec_warnings(spec)
    if warnings:
        print(f"{args.file}: {len(warnings)} warning(s), the search runs as specified:",
              file=sys.stderr)  # fmt: skip
        print_warnings(warnings)
    options = RunOptions(
        state_dir=Path(args.state_dir or f"results/{spec.name}"),
        parallel=args.parallel,
        resume=args.resume,
        interval=args.interval,
        startup_timeout=args.startup_timeout,
        hang_timeout=args.hang_timeout,
        stop_grace=args.stop_grace,
        progress=not args.quiet,
    )
    try:
        runner = LocalRunner(spec, options, manifest=args.file, history=history)
        code = runner.run()
    except (RunError, StateFileError, TemplateError) as e:
        print(f"hypersearch run: {e}", file=sys.stderr)
        return EXIT_INVALID
    if code == 130:
        return code
    _print_outcome(runner.results(), options.state_dir)
    return code


def _print_outcome(results: dict[str, object], directory: Path) -> None:
    from hypersearch.report.text import outcome_lines

    for line in outcome_lines(results, directory):
        print(line)


def cmd_report(args: argparse.Namespace) -> int:
    """Render results.json, report.html and its plots from a results directory or a cluster."""
    if (args.directory is None) == (args.cluster is None):
        print(
            "hypersearch report: give a results DIRECTORY or --cluster NAMESPACE/NAME",
            file=sys.stderr,
        )
        return EXIT_INVALID
    if args.cluster is not None:
        return _report_from_cluster(args)
    if args.out or args.kubeconfig or args.context:
        print("hypersearch report: --out/--kubeconfig/--context go with --cluster", file=sys.stderr)
        return EXIT_INVALID
    from hypersearch.report import render_report

    try:
        path = render_report(Path(args.directory))
    except FileNotFoundError as e:
        print(f"hypersearch report: {e}", file=sys.stderr)
        return EXIT_INVALID
    print(path)
    return 0


def _report_from_cluster(args: argparse.Namespace) -> int:
    """Read a HyperSearch and its Trials, rebuild the engine as the operator does, render."""
    from hypersearch.report import write_results
    from hypersearch.report.cluster import (
        ClusterReportError,
        cluster_results,
        default_out,
        load_api,
        split_target,
    )

    try:
        api, context_namespace = load_api(args.kubeconfig, args.context)
        with api:
            namespace, name = split_target(args.cluster, context_namespace)
            results = cluster_results(api, namespace, name)
    except ClusterReportError as e:
        print(f"hypersearch report: {e}", file=sys.stderr)
        return 1
    out = Path(args.out) if args.out else default_out(namespace, name)
    write_results(out, results)
    _print_outcome(results, out)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hypersearch",
        description="Two-stage hyperparameter search for models trained on drifting streams.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    validate = sub.add_parser(
        "validate", help="check HyperSearch manifests (exit code 2 if invalid)"
    )
    validate.add_argument(
        "files", nargs="+", help="manifest files (YAML, several documents allowed)"
    )
    validate.set_defaults(func=cmd_validate)
    run = sub.add_parser(
        "run", help="run a whole two-stage search on this machine (trials as processes)"
    )
    run.add_argument("file", help="HyperSearch manifest (the same one the cluster takes)")
    run.add_argument("--state-dir", help="state and results directory (default results/NAME)")
    run.add_argument(
        "--parallel", type=int, help="trials at once (default: one per GPU, else spec.parallelism)"
    )
    run.add_argument("--resume", action="store_true", help="continue the search in --state-dir")
    run.add_argument("--interval", type=float, help="scrape interval in seconds (default: spec)")
    run.add_argument(
        "--startup-timeout",
        type=float,
        default=None,
        help="fail a trial whose metrics endpoint never answers within this (seconds; overrides "
        "spec.deadlines.startupSeconds, default 120)",
    )
    run.add_argument(
        "--hang-timeout",
        type=float,
        default=None,
        help="fail a trial that makes no progress for this long (seconds; overrides "
        "spec.deadlines.progressSeconds, default 600)",
    )
    run.add_argument(
        "--stop-grace", type=float, default=10.0, help="seconds from SIGTERM to SIGKILL (10)"
    )
    run.add_argument("--quiet", "-q", action="store_true", help="no progress display")
    run.set_defaults(func=cmd_run)
    report = sub.add_parser(
        "report",
        help="render report.html from a results directory or a HyperSearch in a cluster",
    )
    report.add_argument("directory", nargs="?", help="a results directory (holds results.json)")
    report.add_argument(
        "--cluster",
        metavar="NAMESPACE/NAME",
        help="read this HyperSearch and its Trials from the cluster (NAME alone: the "
        "kubeconfig context's namespace)",
    )
    report.add_argument(
        "--kubeconfig", help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config)"
    )
    report.add_argument("--context", help="kubeconfig context (default: the current one)")
    report.add_argument(
        "--out", help="where to write results.json and report.html (default results/NAMESPACE-NAME)"
    )
    report.set_defaults(func=cmd_report)
    add_operator_command(sub)
    bench = sub.add_parser("bench", help="benchmarks shipped with HyperSearch")
    bench_sub = bench.add_subparsers(dest="benchmark", required=True)
    quality = bench_sub.add_parser(
        "search-quality",
        help="cost vs. regret@k of every stage-1 method on a drifting dataset",
        description="Cost vs. regret@k of every stage-1 method, replayed over real trainer runs.",
    )
    search_quality.add_arguments(quality)
    quality.set_defaults(func=search_quality.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())

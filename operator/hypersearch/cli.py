"""The ``hypersearch`` command line: validate manifests, run searches locally, start the operator."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from hypersearch.spec import KIND, SpecInvalid, check, load_documents

EXIT_INVALID = 2


def cmd_validate(args: argparse.Namespace) -> int:
    """Check manifests against the CRD schema and the semantic rules; report every error."""
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
            _, errors = check(doc)
            if errors:
                status = EXIT_INVALID
                print(f"{path}: {KIND} {name!r} is invalid:", file=sys.stderr)
                for err in sorted(errors):
                    print(f"  {err}", file=sys.stderr)
            else:
                print(f"{path}: {KIND} {name!r} is valid")
    return status


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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())

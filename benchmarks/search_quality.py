"""Search-quality benchmark; the same as ``hypersearch bench search-quality`` (see its --help).

python benchmarks/search_quality.py --quick
python benchmarks/search_quality.py --out docs/bench    # full: 64 configs on flights-3m
"""

from hypersearch.bench.search_quality import main

if __name__ == "__main__":
    raise SystemExit(main())

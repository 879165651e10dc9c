"""``python -m hypersearch.kube``: run the operator (same flags as ``hypersearch operator``)."""

import sys

from hypersearch.kube.cli import main

sys.exit(main())

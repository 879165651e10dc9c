"""``python -m hypersearch`` is the ``hypersearch`` command."""

import sys

from hypersearch.cli import main

sys.exit(main())

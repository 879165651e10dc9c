"""Allows ``python -m hypersearch_trainer``."""

from hypersearch_trainer.main import main

raise SystemExit(main())

"""HyperSearch: two-stage hyperparameter search for models trained on drifting streams."""

__version__ = "0.1.0"

"""Error types that map to process exit codes, so executors can tell user mistakes from crashes."""

from __future__ import annotations

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_DATA = 3


class TrainerError(Exception):
    """Base class: a message meant for a person, plus the exit code the process should return."""

    exit_code = EXIT_INTERNAL


class ConfigError(TrainerError):
    """A flag, environment variable, hyperparameter or dataset description is wrong (exit 2)."""

    exit_code = EXIT_USAGE


class DataError(TrainerError):
    """The data itself is unreadable or inconsistent: corrupt row, unsorted time (exit 3)."""

    exit_code = EXIT_DATA

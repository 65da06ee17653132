"""The two errors the CLI turns into one line and an exit code. Light: no pydantic, no troposphere,
so the CLI can catch them without importing the generator."""

from __future__ import annotations


class ConfigError(Exception):
    """Bad params: carries the file, the key path and what is allowed. The CLI exits 2 on it."""

    def __init__(self, file: str, key: str, message: str):
        self.file, self.key, self.message = file, key, message
        super().__init__(f"{file}: {key}: {message}" if key else f"{file}: {message}")


class LimitError(Exception):
    """A generated template breaks a CloudFormation hard limit. The CLI exits 1 on it."""

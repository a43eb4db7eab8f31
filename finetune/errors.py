"""The errors finetune raises for what the user can fix: the message names the file and what to do."""

from __future__ import annotations


class DataError(ValueError):
    """Training data that cannot be used; the message names the file (and line) and what is wrong."""


class ExportError(Exception):
    """A user error while exporting (missing files, unsupported request); the message names the path."""


__all__ = ["DataError", "ExportError"]

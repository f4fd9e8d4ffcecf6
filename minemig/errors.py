"""Errors minemig raises, each with a stable code and a message that says what to do.

Library code raises these; only :mod:`minemig.cli` catches them and prints one line.
"""

from __future__ import annotations


class MinemigError(Exception):
    """Base class: ``code`` is stable across releases so scripts and cron mail can match it."""

    code = "M000"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return f"[{self.code}] {self.message}"


class ConfigError(MinemigError):
    """A pipeline, gazetteer, baseline or setting is missing or malformed."""

    code = "M100"


class UsageError(MinemigError):
    """The user's arguments cannot be acted on (bad date, empty query, unknown format)."""

    code = "M200"


class FetchError(MinemigError):
    """E-utilities could not be reached or answered with an error, after the allowed retries."""

    code = "M300"


class ParseError(MinemigError):
    """An input file is not readable PubMed XML (not XML, corrupt gzip, forbidden entities)."""

    code = "M400"


class StoreError(MinemigError):
    """The SQLite store is locked, read-only, corrupt or full."""

    code = "M500"


class VocabularyError(MinemigError):
    """A public vocabulary could not be fetched, read or compiled."""

    code = "M600"

"""Where minemig keeps its data and how it reaches NCBI, from the environment.

Precedence: an explicit argument (``--db``), then the environment, then the
platform's user data directory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

NCBI_EUTILS_URL = "https://eutils.ncbi.nlm.nih.gov/entrez/eutils/"
TOOL_NAME = "minemig"


def data_dir() -> Path:
    """The folder holding the default database and installed vocabularies."""
    configured = os.environ.get("MINEMIG_DATA_DIR")
    if configured:
        return Path(configured).expanduser()
    return Path(platformdirs.user_data_dir("minemig", appauthor=False))


def default_db_path() -> Path:
    configured = os.environ.get("MINEMIG_DB")
    if configured:
        return Path(configured).expanduser()
    return data_dir() / "minemig.sqlite"


@dataclass(frozen=True)
class NcbiSettings:
    """What every E-utilities request carries. ``api_key`` is a secret: never log it."""

    base_url: str
    email: str
    api_key: str
    tool: str = TOOL_NAME

    @classmethod
    def from_env(cls) -> NcbiSettings:
        base = os.environ.get("MINEMIG_EUTILS_URL") or NCBI_EUTILS_URL
        if not base.endswith("/"):
            base += "/"
        return cls(
            base_url=base,
            email=os.environ.get("NCBI_EMAIL", ""),
            api_key=os.environ.get("NCBI_API_KEY", ""),
        )

    def __repr__(self) -> str:  # keeps the key out of tracebacks and logs
        key = "***" if self.api_key else ""
        return f"NcbiSettings(base_url={self.base_url!r}, email={self.email!r}, api_key={key!r})"

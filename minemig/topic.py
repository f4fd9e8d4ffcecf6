"""A watched topic: ``pipelines/<name>.toml`` loaded and checked into a frozen record.

A topic file says what to track (the PubMed query, the EV types watched), which
vocabulary to read with, the baseline to compare against and how to write digests.
Adding a topic means adding a file, never code. Unknown keys are errors, so a typo
cannot silently fall back to a default.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from minemig.errors import ConfigError
from minemig.settings import data_dir

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

# The repository's own pipelines/ (an editable install keeps it beside the package).
BUNDLED_PIPELINES = Path(__file__).resolve().parent.parent / "pipelines"

_SCHEMA: dict[str, dict[str, type | tuple[type, ...]]] = {
    "topic": {"name": str, "description": str, "watched_ev_types": list},
    "query": {
        "term": str,
        "datetype": str,
        "batch_size": int,
        "overlap_days": int,
        "first_mindate": str,
    },
    "gazetteers": {"directory": str, "files": list, "abbreviations": list},
    "nlp": {"model": str, "batch_size": int},
    "baseline": {"claims": str},
    "digest": {"title": str, "out_dir": str},
}
_REQUIRED = {
    ("topic", "name"),
    ("topic", "watched_ev_types"),
    ("query", "term"),
    ("gazetteers", "files"),
    ("baseline", "claims"),
}


@dataclass(frozen=True)
class Topic:
    name: str
    description: str
    path: Path
    watched_ev_types: tuple[str, ...]
    query_term: str
    datetype: str
    batch_size: int
    overlap_days: int
    first_mindate: str
    gazetteer_files: tuple[Path, ...]
    abbreviation_files: tuple[Path, ...]
    model: str
    nlp_batch_size: int
    baseline_path: Path
    digest_title: str
    digest_dir: Path

    def watches(self, ev_type: str) -> bool:
        return ev_type in self.watched_ev_types


def pipeline_dirs() -> list[Path]:
    dirs = []
    configured = os.environ.get("MINEMIG_PIPELINES_DIR")
    if configured:
        dirs.append(Path(configured).expanduser())
    dirs.append(data_dir() / "pipelines")
    dirs.append(BUNDLED_PIPELINES)
    return dirs


def find_pipeline(name: str) -> Path:
    """A path to a .toml file, or a pipeline name looked up in the pipeline folders."""
    candidate = Path(name).expanduser()
    if candidate.suffix == ".toml":
        if candidate.is_file():
            return candidate
        raise ConfigError(f"pipeline file not found: {candidate}")
    for folder in pipeline_dirs():
        path = folder / f"{name}.toml"
        if path.is_file():
            return path
    known = sorted(
        {p.stem for folder in pipeline_dirs() if folder.is_dir() for p in folder.glob("*.toml")}
    )
    raise ConfigError(
        f"unknown pipeline {name!r} (known: {', '.join(known) or 'none'}); "
        "pass a name from pipelines/ or a path to a .toml file"
    )


def load_topic(name_or_path: str) -> Topic:
    path = find_pipeline(name_or_path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot be read ({exc})") from None
    _check_schema(path, data)
    base = path.parent

    def section(name: str) -> dict[str, Any]:
        value: dict[str, Any] = data.get(name, {})
        return value

    gazetteer_dir = (base / section("gazetteers").get("directory", "../gazetteers")).resolve()
    topic = Topic(
        name=section("topic")["name"],
        description=section("topic").get("description", ""),
        path=path,
        watched_ev_types=tuple(section("topic")["watched_ev_types"]),
        query_term=section("query")["term"].strip(),
        datetype=section("query").get("datetype", "edat"),
        batch_size=section("query").get("batch_size", 200),
        overlap_days=section("query").get("overlap_days", 3),
        first_mindate=section("query").get("first_mindate", ""),
        gazetteer_files=tuple(gazetteer_dir / f for f in section("gazetteers")["files"]),
        abbreviation_files=tuple(
            gazetteer_dir / f for f in section("gazetteers").get("abbreviations", [])
        ),
        model=section("nlp").get("model", "auto"),
        nlp_batch_size=section("nlp").get("batch_size", 64),
        baseline_path=(base / section("baseline")["claims"]).resolve(),
        digest_title=section("digest").get("title", f"{section('topic')['name']} digest"),
        digest_dir=Path(section("digest").get("out_dir", "digests")),
    )
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", topic.name):
        # The name becomes part of digest file names: no '/' may lead outside the folder.
        raise ConfigError(
            f"{path}: [topic] name {topic.name!r} may hold only letters, digits, '.', '_', '-'"
        )
    if not topic.query_term:
        raise ConfigError(f"{path}: [query] term must not be empty")
    if not 1 <= topic.batch_size <= 10000:
        raise ConfigError(f"{path}: [query] batch_size must be between 1 and 10000")
    for file in (*topic.gazetteer_files, *topic.abbreviation_files, topic.baseline_path):
        if not file.is_file():
            raise ConfigError(f"{path}: file not found: {file}")
    return topic


def _check_schema(path: Path, data: dict[str, Any]) -> None:
    for section, values in data.items():
        if section not in _SCHEMA:
            raise ConfigError(f"{path}: unknown section [{section}]")
        if not isinstance(values, dict):
            raise ConfigError(f"{path}: [{section}] must be a table")
        for key, value in values.items():
            expected = _SCHEMA[section].get(key)
            if expected is None:
                raise ConfigError(f"{path}: unknown key {key!r} in [{section}]")
            if not isinstance(value, expected) or isinstance(value, bool):
                raise ConfigError(f"{path}: [{section}] {key} has the wrong type")
    for section, key in sorted(_REQUIRED):
        if key not in data.get(section, {}):
            raise ConfigError(f"{path}: missing key {key!r} in [{section}]")

"""Gazetteers: vocabularies kept as TSV data files, loaded into typed concepts.

Each row of ``gazetteers/*.tsv`` is one concept: ``id, name, category, synonyms, source``.
The files are configuration reviewed like code; their sha256 goes into every run so
that a vocabulary change is never mistaken for new literature.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from minemig.errors import ConfigError

COLUMNS = ("id", "name", "category", "synonyms", "source")
CATEGORIES = frozenset(
    {
        "ev_type",
        "gene",
        "probe",
        "cargo",
        "function",
        "cell_type",
        "cell_line",  # recognised so it is not mistaken for a gene, never a finding
        "organ",
        "disease",
        "method",
        "biogenesis",
    }
)
ABBREVIATION_COLUMNS = ("short", "long", "id", "note")


@dataclass(frozen=True)
class Concept:
    id: str
    name: str
    category: str
    synonyms: tuple[str, ...]
    source: str

    @property
    def surface_forms(self) -> tuple[str, ...]:
        forms = [self.name, *self.synonyms]
        seen: dict[str, str] = {}
        for form in forms:
            seen.setdefault(form.lower(), form)
        return tuple(seen.values())


@dataclass(frozen=True)
class Abbreviation:
    """A curated short form; ``id`` is empty when the short form is ambiguous."""

    short: str
    long: str
    id: str
    note: str


@dataclass
class Gazetteer:
    concepts: dict[str, Concept] = field(default_factory=dict)
    abbreviations: list[Abbreviation] = field(default_factory=list)
    file_hashes: dict[str, str] = field(default_factory=dict)

    def get(self, concept_id: str) -> Concept | None:
        return self.concepts.get(concept_id)

    @cached_property
    def ambiguous_short_forms(self) -> dict[str, list[str]]:
        """Curated short forms listed with several senses and no id (WGA), each with the
        long forms of its senses in lower case."""
        senses: dict[str, list[str]] = {}
        for abbreviation in self.abbreviations:
            if not abbreviation.id:
                senses.setdefault(abbreviation.short, []).append(abbreviation.long.lower())
        return senses

    def by_category(self, category: str) -> list[Concept]:
        return [c for c in self.concepts.values() if c.category == category]

    def patterns(self) -> list[dict[str, str]]:
        """EntityRuler/SpanRuler phrase patterns: label = category, id = canonical id."""
        return [
            {"label": concept.category.upper(), "pattern": form, "id": concept.id}
            for concept in self.concepts.values()
            for form in concept.surface_forms
        ]

    @property
    def version(self) -> str:
        """One digest of all files loaded, for provenance and for keying extractions."""
        digest = hashlib.sha256()
        for name in sorted(self.file_hashes):
            digest.update(f"{name}:{self.file_hashes[name]}\n".encode())
        return digest.hexdigest()[:16]


def _read_tsv(path: Path, columns: Sequence[str]) -> Iterable[tuple[int, dict[str, str]]]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"gazetteer file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot be read as UTF-8 text ({exc})") from None
    reader = csv.reader(text.splitlines(), delimiter="\t", quoting=csv.QUOTE_NONE)
    header = next(reader, None)
    if header is None or tuple(h.strip() for h in header) != tuple(columns):
        raise ConfigError(
            f"{path}: the header must be the tab-separated columns {' '.join(columns)}"
        )
    for line_number, row in enumerate(reader, start=2):
        if not row or all(not cell.strip() for cell in row) or row[0].startswith("#"):
            continue
        if len(row) != len(columns):
            raise ConfigError(
                f"{path}:{line_number}: expected {len(columns)} tab-separated columns,"
                f" found {len(row)}"
            )
        yield line_number, {name: cell.strip() for name, cell in zip(columns, row, strict=True)}


def load_gazetteer(paths: Iterable[Path], abbreviation_paths: Iterable[Path] = ()) -> Gazetteer:
    """Load concept files (and optional abbreviation tables) into one gazetteer.

    A surface form that two different concepts claim is an error: the matcher
    would pick one at random, so the conflict has to be settled in the data.
    """
    gazetteer = Gazetteer()
    form_owner: dict[str, tuple[str, str]] = {}
    for path in paths:
        path = Path(path)
        gazetteer.file_hashes[path.name] = _sha256(path)
        for line_number, row in _read_tsv(path, COLUMNS):
            where = f"{path}:{line_number}"
            if not row["id"] or not row["name"]:
                raise ConfigError(f"{where}: id and name must not be empty")
            if row["category"] not in CATEGORIES:
                raise ConfigError(
                    f"{where}: unknown category {row['category']!r}"
                    f" (one of {', '.join(sorted(CATEGORIES))})"
                )
            if row["id"] in gazetteer.concepts:
                raise ConfigError(f"{where}: id {row['id']} is defined twice")
            synonyms = tuple(s.strip() for s in row["synonyms"].split("|") if s.strip())
            concept = Concept(row["id"], row["name"], row["category"], synonyms, row["source"])
            for form in concept.surface_forms:
                owner = form_owner.get(form.lower())
                if owner and owner[0] != concept.id:
                    raise ConfigError(
                        f"{where}: surface form {form!r} of {concept.id} is already a form of"
                        f" {owner[0]} ({owner[1]})"
                    )
                form_owner[form.lower()] = (concept.id, where)
            gazetteer.concepts[concept.id] = concept
    for path in abbreviation_paths:
        path = Path(path)
        gazetteer.file_hashes[path.name] = _sha256(path)
        for line_number, row in _read_tsv(path, ABBREVIATION_COLUMNS):
            if row["id"] and row["id"] not in gazetteer.concepts:
                raise ConfigError(
                    f"{path}:{line_number}: abbreviation {row['short']!r} points to unknown id"
                    f" {row['id']}"
                )
            gazetteer.abbreviations.append(Abbreviation(**row))
    return gazetteer


def _sha256(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        raise ConfigError(f"gazetteer file not found: {path}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror or exc})") from None

"""Stage 6a: the review's claims, and the status of a finding measured against them.

A claims file (``pipelines/baselines/<topic>.tsv``) lists what the baseline review
establishes and what it only proposes. Each finding then gets one status:
``context`` (an EV type the topic does not watch), ``contradicts`` (it denies an
established claim, or gives a size outside the established range), ``baseline``
(it restates an established claim) or ``new``.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path

from minemig.errors import ConfigError
from minemig.models import FINDING_CATEGORIES, Finding

COLUMNS = ("ev_type", "category", "entity_id", "entity", "min_nm", "max_nm", "kind", "source")
KINDS = ("established", "hypothesis")
SIZE_TOLERANCE = 0.1  # a reported range may exceed the baseline's by 10% before it contradicts


@dataclass(frozen=True)
class Claim:
    ev_type: str
    category: str
    entity_id: str
    entity: str
    kind: str  # established | hypothesis
    source: str
    min_nm: float | None = None
    max_nm: float | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.ev_type, self.category, self.entity_id)


@dataclass(frozen=True)
class Baseline:
    claims: tuple[Claim, ...]

    def established(self, key: tuple[str, str, str]) -> Claim | None:
        return self._first_of_kind.get((key, "established"))

    def hypothesis(self, key: tuple[str, str, str]) -> Claim | None:
        return self._first_of_kind.get((key, "hypothesis"))

    @cached_property
    def _first_of_kind(self) -> dict[tuple[tuple[str, str, str], str], Claim]:
        """The first claim of each key and kind: every finding is looked up here."""
        index: dict[tuple[tuple[str, str, str], str], Claim] = {}
        for claim in self.claims:
            index.setdefault((claim.key, claim.kind), claim)
        return index

    def size_range(self, ev_type: str) -> Claim | None:
        return next(
            (
                c
                for c in self.claims
                if c.ev_type == ev_type and c.category == "size" and c.kind == "established"
            ),
            None,
        )

    def status(self, finding: Finding, watched: Iterable[str]) -> str:
        if finding.ev_type not in set(watched):
            return "context"
        if finding.category == "size":
            return self._size_status(finding)
        claim = self.established(finding.key)
        if claim is not None:
            return "contradicts" if finding.negated and not finding.speculative else "baseline"
        return "new"

    def _size_status(self, finding: Finding) -> str:
        claim = self.size_range(finding.ev_type)
        if claim is None or claim.min_nm is None or claim.max_nm is None:
            return "new"
        low = finding.size_min_nm if finding.size_min_nm is not None else 0.0
        high = finding.size_max_nm if finding.size_max_nm is not None else low
        inside = low >= claim.min_nm * (1 - SIZE_TOLERANCE) and high <= claim.max_nm * (
            1 + SIZE_TOLERANCE
        )
        # "up to 3 µm" restates the upper bound; only a bound beyond the range contradicts.
        if low == 0.0:
            inside = high <= claim.max_nm * (1 + SIZE_TOLERANCE)
        return "baseline" if inside else "contradicts"

    def with_status(self, findings: Iterable[Finding], watched: Iterable[str]) -> list[Finding]:
        watched = tuple(watched)
        return [replace(f, status=self.status(f, watched)) for f in findings]


def load_baseline(path: Path) -> Baseline:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"baseline file {path}: {exc.strerror or exc}") from None
    rows = list(csv.reader(text.splitlines(), delimiter="\t", quoting=csv.QUOTE_NONE))
    if not rows or tuple(rows[0]) != COLUMNS:
        raise ConfigError(
            f"{path}: the header must be the tab-separated columns {' '.join(COLUMNS)}"
        )
    claims = []
    for line_number, row in enumerate(rows[1:], start=2):
        if not row or row[0].startswith("#"):
            continue
        if len(row) != len(COLUMNS):
            raise ConfigError(f"{path}:{line_number}: expected {len(COLUMNS)} columns")
        data = dict(zip(COLUMNS, (cell.strip() for cell in row), strict=True))
        if data["category"] not in FINDING_CATEGORIES:
            raise ConfigError(f"{path}:{line_number}: unknown category {data['category']!r}")
        if data["kind"] not in KINDS:
            raise ConfigError(f"{path}:{line_number}: kind must be one of {', '.join(KINDS)}")
        try:
            min_nm = float(data["min_nm"]) if data["min_nm"] else None
            max_nm = float(data["max_nm"]) if data["max_nm"] else None
        except ValueError:
            raise ConfigError(f"{path}:{line_number}: min_nm/max_nm must be numbers") from None
        claims.append(
            Claim(
                data["ev_type"],
                data["category"],
                data["entity_id"],
                data["entity"],
                data["kind"],
                data["source"],
                min_nm,
                max_nm,
            )
        )
    return Baseline(tuple(claims))

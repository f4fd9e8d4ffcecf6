"""Typed records exchanged between the stages of the data flow.

Every stage takes and returns only these types, so each module knows its two
neighbours' records and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class AbstractSection:
    """One part of a (possibly structured) abstract; ``label`` is empty when unstructured."""

    text: str
    label: str = ""
    nlm_category: str = ""


@dataclass(frozen=True)
class PubDate:
    """A publication date as precise as the record gives it (month/day may be missing)."""

    year: int | None = None
    month: int | None = None
    day: int | None = None
    raw: str = ""  # MedlineDate text or the parts as written, for display

    def iso(self) -> str:
        """``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``; empty when the year is unknown."""
        if self.year is None:
            return ""
        text = f"{self.year:04d}"
        if self.month is not None:
            text += f"-{self.month:02d}"
            if self.day is not None:
                text += f"-{self.day:02d}"
        return text


@dataclass(frozen=True)
class Article:
    """One PubMed record (``PubmedArticle`` or ``PubmedBookArticle``)."""

    pmid: str
    version: int = 1
    title: str = ""
    abstract_sections: tuple[AbstractSection, ...] = ()
    journal: str = ""
    pub_date: PubDate = field(default_factory=PubDate)
    doi: str = ""
    pmcid: str = ""
    mesh_headings: tuple[str, ...] = ()
    publication_types: tuple[str, ...] = ()
    language: str = ""
    is_book: bool = False

    @property
    def abstract(self) -> str:
        """Abstract text with section labels kept as ``LABEL: text`` paragraphs."""
        parts = []
        for section in self.abstract_sections:
            parts.append(f"{section.label}: {section.text}" if section.label else section.text)
        return "\n".join(parts)

    @property
    def year(self) -> int | None:
        return self.pub_date.year

    @property
    def is_retraction_notice(self) -> bool:
        return "Retraction of Publication" in self.publication_types

    @property
    def is_retracted(self) -> bool:
        return "Retracted Publication" in self.publication_types


@dataclass(frozen=True)
class Deletion:
    """A ``DeleteCitation`` entry: the record must leave (or be marked deleted in) the store."""

    pmid: str


@dataclass(frozen=True)
class SkippedRecord:
    """A record that could not be read; the rest of the file is still used."""

    pmid: str
    reason: str
    source: str = ""


# Prefix of the ids of entities no gazetteer row or vocabulary names: UNLISTED:<name>.
UNLISTED_PREFIX = "UNLISTED:"


@dataclass(frozen=True)
class Finding:
    """One claim: an EV type tied to one entity, in one sentence of one article."""

    pmid: str
    ev_type: str  # canonical EV-type id, e.g. "EV:migrasome"
    category: str  # marker|cargo|function|cell_type|biogenesis|size|disease|method
    entity: str  # display name
    entity_id: str
    predicate: str  # what the trigger words express, e.g. "enriched_in", "required_for"
    negated: bool
    speculative: bool
    evidence: str  # the sentence
    sentence_index: int
    start_char: int  # offsets of the entity mention within the article text
    end_char: int
    unlisted: bool = False  # True when no gazetteer row named the entity
    size_min_nm: float | None = None
    size_max_nm: float | None = None
    status: str = ""  # baseline|new|contradicts|context, set by comparison with the baseline

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.ev_type, self.category, self.entity_id)


FINDING_CATEGORIES = (
    "marker",
    "cargo",
    "function",
    "cell_type",
    "biogenesis",
    "size",
    "disease",
    "method",
)

FINDING_STATUSES = ("baseline", "new", "contradicts", "context")

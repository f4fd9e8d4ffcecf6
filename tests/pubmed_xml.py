"""Write PubMed XML for test records, shaped like ``efetch db=pubmed retmode=xml`` output.

Tests describe a record with :class:`Record` (only ``pmid`` is required) and get either one
``<PubmedArticle>`` fragment (:func:`article_xml`) or a whole ``PubmedArticleSet`` document
(:func:`article_set`, :func:`write_article_set`). Text is escaped; wrap a string in :class:`Raw`
to insert inline markup (``<i>``, ``<sub>``) as PubMed does. The element order follows the
PubMed DTD, so a parser that works on these records meets the same layout as on real ones.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from minemig.models import AbstractSection

XML_DECLARATION = '<?xml version="1.0" ?>'
DOCTYPE = (
    '<!DOCTYPE PubmedArticleSet PUBLIC "-//NLM//DTD PubMedArticle, 1st January 2025//EN" '
    '"https://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_250101.dtd">'
)

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

# MeSH unique ids of the publication types tests use; others are written without ``UI``.
PUBLICATION_TYPE_UI = {
    "Journal Article": "D016428",
    "Review": "D016454",
    "Retracted Publication": "D016441",
    "Retraction of Publication": "D016440",
    "Published Erratum": "D016425",
    "Comment": "D016420",
    "Letter": "D016422",
    "Editorial": "D016421",
    "Case Reports": "D002363",
    "Randomized Controlled Trial": "D016449",
    "Meta-Analysis": "D017418",
}


class Raw(str):
    """Text that already is XML (inline markup); written as is instead of escaped."""


@dataclass(frozen=True)
class Record:
    """One test record. ``abstract`` is plain text or structured sections; ``None`` omits it.

    ``pub_date`` is ``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD`` (written as Year/Month/Day) or any
    other text, written as ``MedlineDate`` ("2019 Sep-Oct"). ``entrez_date`` is the date PubMed
    received the record (``edat``), which searches and the loopback server filter on.
    """

    pmid: str
    title: str = "Untitled record."
    abstract: str | Sequence[AbstractSection] | None = None
    version: int = 1
    journal: str = "Journal of Test Biology"
    pub_date: str = "2024"
    entrez_date: date = date(2024, 1, 1)
    doi: str = ""
    pmcid: str = ""
    publication_types: Sequence[str] = ("Journal Article",)
    language: str = "eng"
    mesh_headings: Sequence[str] = ()
    status: str = "MEDLINE"
    extra_ids: Sequence[tuple[str, str]] = ()  # more (IdType, value) pairs for ArticleIdList

    @property
    def text(self) -> str:
        """Title and abstract as plain words, for search matching."""
        if self.abstract is None:
            body = ""
        elif isinstance(self.abstract, str):
            body = self.abstract
        else:
            body = " ".join(section.text for section in self.abstract)
        return re.sub(r"<[^>]+>", "", f"{self.title} {body}")


def _ui(publication_type: str) -> str:
    ui = PUBLICATION_TYPE_UI.get(publication_type)
    return f" UI={quoteattr(ui)}" if ui else ""


def _text(value: str) -> str:
    return value if isinstance(value, Raw) else escape(value)


def _date_parts(day: date, *, numeric_month: bool, time: bool = False) -> str:
    month = f"{day.month}" if numeric_month else MONTHS[day.month - 1]
    parts = f"<Year>{day.year}</Year><Month>{month}</Month><Day>{day.day}</Day>"
    return parts + ("<Hour>6</Hour><Minute>0</Minute>" if time else "")


def _pub_date(value: str) -> str:
    match = re.fullmatch(r"(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?", value)
    if not match:
        return f"<PubDate><MedlineDate>{escape(value)}</MedlineDate></PubDate>"
    year, month, day = match.groups()
    parts = f"<Year>{year}</Year>"
    if month:
        parts += f"<Month>{MONTHS[int(month) - 1]}</Month>"
        if day:
            parts += f"<Day>{day}</Day>"
    return f"<PubDate>{parts}</PubDate>"


def _abstract(abstract: str | Sequence[AbstractSection] | None) -> str:
    if abstract is None:
        return ""
    if isinstance(abstract, str):
        return f"<Abstract><AbstractText>{_text(abstract)}</AbstractText></Abstract>"
    texts = []
    for section in abstract:
        attrs = f" Label={quoteattr(section.label)}" if section.label else ""
        if section.nlm_category:
            attrs += f" NlmCategory={quoteattr(section.nlm_category)}"
        texts.append(f"<AbstractText{attrs}>{_text(section.text)}</AbstractText>")
    return f"<Abstract>{''.join(texts)}</Abstract>"


def article_xml(record: Record) -> str:
    """One ``<PubmedArticle>`` element for ``record``, on one line as efetch writes it."""
    pmid = escape(record.pmid)
    types = "".join(
        f"<PublicationType{_ui(kind)}>{escape(kind)}</PublicationType>"
        for kind in record.publication_types
    )
    doi_location = (
        f'<ELocationID EIdType="doi" ValidYN="Y">{escape(record.doi)}</ELocationID>'
        if record.doi
        else ""
    )
    mesh = ""
    if record.mesh_headings:
        mesh = "<MeshHeadingList>{}</MeshHeadingList>".format(
            "".join(
                f'<MeshHeading><DescriptorName MajorTopicYN="N">{escape(term)}</DescriptorName>'
                "</MeshHeading>"
                for term in record.mesh_headings
            )
        )
    ids = [("pubmed", record.pmid)]
    if record.pmcid:
        ids.append(("pmc", record.pmcid))
    if record.doi:
        ids.append(("doi", record.doi))
    ids.extend(record.extra_ids)
    article_ids = "".join(
        f"<ArticleId IdType={quoteattr(kind)}>{escape(value)}</ArticleId>" for kind, value in ids
    )
    return (
        f'<PubmedArticle><MedlineCitation Status={quoteattr(record.status)} Owner="NLM">'
        f'<PMID Version="{record.version}">{pmid}</PMID>'
        f'<Article PubModel="Print"><Journal><JournalIssue CitedMedium="Internet">'
        f"{_pub_date(record.pub_date)}</JournalIssue><Title>{escape(record.journal)}</Title>"
        f"</Journal><ArticleTitle>{_text(record.title)}</ArticleTitle>{doi_location}"
        f"{_abstract(record.abstract)}<Language>{escape(record.language)}</Language>"
        f"<PublicationTypeList>{types}</PublicationTypeList></Article>"
        f"<MedlineJournalInfo><Country>United States</Country>"
        f"<MedlineTA>{escape(record.journal)}</MedlineTA></MedlineJournalInfo>{mesh}"
        f"</MedlineCitation><PubmedData><History>"
        f'<PubMedPubDate PubStatus="entrez">'
        f"{_date_parts(record.entrez_date, numeric_month=True, time=True)}</PubMedPubDate>"
        f'<PubMedPubDate PubStatus="pubmed">'
        f"{_date_parts(record.entrez_date, numeric_month=True, time=True)}</PubMedPubDate>"
        f"</History><PublicationStatus>ppublish</PublicationStatus>"
        f"<ArticleIdList>{article_ids}</ArticleIdList></PubmedData></PubmedArticle>"
    )


def article_set(records: Iterable[Record | str], *, deleted_pmids: Sequence[str] = ()) -> bytes:
    """A complete ``PubmedArticleSet`` document; strings are taken as ready-made fragments.

    ``deleted_pmids`` adds the ``DeleteCitation`` block that update files end with.
    """
    fragments = [item if isinstance(item, str) else article_xml(item) for item in records]
    deletions = ""
    if deleted_pmids:
        deletions = "<DeleteCitation>{}</DeleteCitation>\n".format(
            "".join(f'<PMID Version="1">{escape(pmid)}</PMID>' for pmid in deleted_pmids)
        )
    body = "".join(f"{fragment}\n" for fragment in fragments)
    document = (
        f"{XML_DECLARATION}\n{DOCTYPE}\n<PubmedArticleSet>\n{body}{deletions}</PubmedArticleSet>"
    )
    return document.encode("utf-8")


def write_article_set(
    path: Path, records: Iterable[Record | str], *, deleted_pmids: Sequence[str] = ()
) -> Path:
    """Write :func:`article_set` to ``path``, gzip-compressed when the name ends in ``.gz``."""
    data = article_set(records, deleted_pmids=deleted_pmids)
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(data, mtime=0))
    else:
        path.write_bytes(data)
    return path

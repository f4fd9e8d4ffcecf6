"""Stage 2: PubMed XML (efetch responses, baseline and update files) → typed records.

:func:`iter_records` streams a PubMed set of any size and yields an :class:`Article` per
``PubmedArticle``/``PubmedBookArticle``, a :class:`Deletion` per ``DeleteCitation`` PMID, and a
:class:`SkippedRecord` per well-formed record that cannot be used. Each field is read by a small
pure function of the record element (``parse_title``, ``parse_pub_date``, …), tested alone and
combined by :func:`parse_article`. The C-accelerated ``XMLPullParser`` reads the document, and
each record is cleared and detached once used, so memory is bounded by the largest record.

Safety: entities can only be declared in the DTD, before the root element, so only that prolog
also goes through ``defusedxml``, which refuses any entity declaration (billion laughs,
``SYSTEM`` entities); its pure-Python parser would be much slower on the whole file. Neither
parser fetches the external DTD PubMed's ``DOCTYPE`` names, so there is no network use, and an
entity only such a DTD could define is an "undefined entity" error.

Errors raise :class:`~minemig.errors.ParseError` naming the file: before anything is yielded for
empty, non-XML or non-PubMed input, corrupt gzip and forbidden entities; after all earlier
records for a syntax error part-way. There is no resynchronising after one: expat cannot
resume, and finding the next record by scanning raw bytes would misread comments, CDATA and
other encodings. Such an error means a damaged file (gzip damage is caught by its checksum;
efetch bytes are cached), so re-fetching is the fix and reporting it beats patching over it.
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
import zlib
from calendar import monthrange
from collections.abc import Iterable, Iterator
from itertools import chain
from typing import BinaryIO, TypeAlias, cast

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser

from minemig.errors import ParseError
from minemig.models import AbstractSection, Article, Deletion, PubDate, SkippedRecord

Source: TypeAlias = "str | os.PathLike[str] | bytes | bytearray | BinaryIO"
Record: TypeAlias = "Article | Deletion | SkippedRecord"

_CHUNK = 1 << 15  # measured: small feeds keep expat's event queue in cache (larger is slower)
_GZIP_MAGIC = b"\x1f\x8b"
_ROOTS = ("PubmedArticleSet", "PubmedBookArticleSet", "MedlineCitationSet")
# Literal English names: calendar.month_abbr would follow the process locale.
_MONTH_NAMES = (
    "january february march april may june july august september october november december"
)
_MONTHS = {m[:size]: i for i, m in enumerate(_MONTH_NAMES.split(), 1) for size in (3, None)}
# MedlineDate or Season text: the first year, then the word right after it ("1998 Dec-1999 Jan").
_YEAR_WORD = re.compile(r"\b(\d{4})\b(?:\s+([A-Za-z]+))?")


class _RecordError(ValueError):
    """A well-formed record that cannot become an Article; the message is the reason."""


def _text(element: ET.Element | None) -> str:
    """All text inside ``element``, markup dropped, whitespace collapsed.

    Fragments are joined *unstripped*, so the spaces around ``<i>in vitro</i>`` survive, and
    only then are whitespace runs (NBSP and thin spaces included) collapsed to one space.
    """
    if element is None:
        return ""
    return " ".join("".join(element.itertext()).split())


def _is_number(text: str) -> bool:
    return text.isascii() and text.isdigit()  # str.isdigit alone accepts "²" and other digits


def _citation(record: ET.Element) -> ET.Element | None:
    """``MedlineCitation`` of an article, ``BookDocument`` of a book: holds PMID and MeSH."""
    found = record.find("MedlineCitation")
    return found if found is not None else record.find("BookDocument")


def _article(record: ET.Element) -> ET.Element | None:
    """``Article`` of a journal article, ``BookDocument`` of a book: both hold ArticleTitle,
    Abstract, Language and ELocationID, so one lookup serves both kinds of record."""
    citation = record.find("MedlineCitation")
    return citation.find("Article") if citation is not None else record.find("BookDocument")


# --- per-field helpers: each takes a PubmedArticle or PubmedBookArticle element -------------


def parse_pmid(record: ET.Element) -> tuple[str, int]:
    """PMID and its ``Version`` (1 when absent); ``ValueError`` if missing or not a number."""
    citation = _citation(record)
    element = citation.find("PMID") if citation is not None else None
    if element is None or not (element.text or "").strip():
        raise _RecordError("no PMID")
    pmid = (element.text or "").strip()
    version = (element.get("Version") or "1").strip()
    if not _is_number(pmid):
        raise _RecordError(f"PMID {pmid!r} is not a number")
    if not _is_number(version):
        raise _RecordError(f"PMID {pmid} has version {version!r}, not a number")
    return pmid, int(version)


def parse_title(record: ET.Element) -> str:
    """ArticleTitle; for a whole book (no chapter title), the BookTitle."""
    article = _article(record)
    if article is None:
        return ""
    title = _text(article.find("ArticleTitle"))
    if not title and article.tag == "BookDocument":
        title = _text(article.find("Book/BookTitle"))
    return title


def parse_abstract(record: ET.Element) -> tuple[AbstractSection, ...]:
    """Abstract sections in document order, with ``Label`` and ``NlmCategory`` kept.

    ``OtherAbstract`` (publisher translations, KIE, plain-language summaries) is used only when
    there is no ``Abstract``, and then only an English one (the DTD's default language), so the
    English NLP downstream never reads a translated duplicate or a foreign-language text.
    """
    article = _article(record)
    abstract = article.find("Abstract") if article is not None else None
    if abstract is None:
        citation = _citation(record)
        others = citation.iterfind("OtherAbstract") if citation is not None else iter(())
        abstract = next((o for o in others if o.get("Language", "eng") == "eng"), None)
        if abstract is None:
            return ()
    sections = []
    for part in abstract.iterfind("AbstractText"):
        text = _text(part)
        if text:
            label = " ".join((part.get("Label") or "").split())
            sections.append(AbstractSection(text, label, part.get("NlmCategory") or ""))
    return tuple(sections)


def parse_journal(record: ET.Element) -> str:
    """Journal title, else its ISO or MEDLINE abbreviation; for a book, the BookTitle."""
    article = _article(record)
    if article is None:
        return ""
    if article.tag == "BookDocument":
        return _text(article.find("Book/BookTitle"))
    journal = article.find("Journal")
    if journal is not None:
        name = _text(journal.find("Title")) or _text(journal.find("ISOAbbreviation"))
        if name:
            return name
    citation = _citation(record)
    return _text(citation.find("MedlineJournalInfo/MedlineTA")) if citation is not None else ""


def _month(text: str) -> int | None:
    """``"Jan"``, ``"January"``, ``"01"`` or ``"1"`` → 1; a season or anything else → None."""
    if _is_number(text):
        return int(text) if 1 <= int(text) <= 12 else None
    return _MONTHS.get(text.lower())


def _year_month(text: str) -> tuple[int | None, int | None]:
    """Year and month of free text ("2015 Oct-Dec", "2000 Spring"): the first year and, when the
    word after it is a month, that month: a range starts there, which is how PubMed sorts it."""
    match = _YEAR_WORD.search(text)
    if match is None:
        return None, None
    return int(match.group(1)), _month(match.group(2) or "")


def _read_date(element: ET.Element) -> PubDate:
    """A PubDate, ArticleDate or PubMedPubDate element → PubDate (year None if unreadable)."""
    medline = _text(element.find("MedlineDate"))
    if medline:
        return PubDate(*_year_month(medline), None, medline)
    year_text, month_text, day_text, season = (
        _text(element.find(tag)) for tag in ("Year", "Month", "Day", "Season")
    )
    raw = " ".join(part for part in (year_text, month_text, day_text, season) if part)
    if not (len(year_text) == 4 and _is_number(year_text)):
        return PubDate(raw=raw)
    year = int(year_text)
    # Without a Month, Season may be a range such as "Jan-Feb" (or "Spring": no month).
    month = _month(month_text) if month_text else _year_month(f"{year} {season}")[1]
    day = None
    if month and _is_number(day_text) and 1 <= int(day_text) <= monthrange(year, month)[1]:
        day = int(day_text)
    return PubDate(year, month, day, raw)


def _date_elements(record: ET.Element) -> Iterator[ET.Element]:
    """Where a publication date may be, best first: the issue (or book) date, the electronic
    ArticleDate, then when PubMed received the record (History ``pubmed``, then ``entrez``)."""
    article = _article(record)
    if article is not None:
        yield from article.iterfind("Journal/JournalIssue/PubDate")
        yield from article.iterfind("Book/PubDate")
        yield from article.iterfind("ArticleDate")
    for status in ("pubmed", "entrez"):
        for path in ("PubmedData/History/PubMedPubDate", "PubmedBookData/History/PubMedPubDate"):
            yield from (d for d in record.iterfind(path) if d.get("PubStatus") == status)


def parse_pub_date(record: ET.Element) -> PubDate:
    """The first date with a readable year, in the order of :func:`_date_elements`."""
    for element in _date_elements(record):
        date = _read_date(element)
        if date.year is not None:
            return date
    return PubDate()


def _article_id(record: ET.Element, id_type: str) -> str:
    """First ``ArticleId`` of ``id_type`` in the record's own ArticleIdLists.

    Explicit paths, not ``.//ArticleId``: every ReferenceList entry has an ArticleIdList too.
    """
    for parent in ("PubmedData", "PubmedBookData", "BookDocument"):
        for element in record.iterfind(f"{parent}/ArticleIdList/ArticleId"):
            if element.get("IdType") == id_type and (value := _text(element)):
                return value
    return ""


def parse_doi(record: ET.Element) -> str:
    """DOI from ArticleIdList, else from a valid ``ELocationID EIdType="doi"`` (old-format
    update files have no PubmedData, so there the ELocationID is all there is)."""
    doi = _article_id(record, "doi")
    article = _article(record)
    if doi or article is None:
        return doi
    for location in article.iterfind("ELocationID"):
        valid = location.get("ValidYN", "Y") == "Y"
        if valid and location.get("EIdType") == "doi" and (doi := _text(location)):
            return doi
    return ""


def parse_pmcid(record: ET.Element) -> str:
    """PMC id (``PMC1234567``) from ArticleIdList, or empty."""
    return _article_id(record, "pmc")


def parse_mesh_headings(record: ET.Element) -> tuple[str, ...]:
    """MeSH descriptor names in record order (qualifiers dropped)."""
    citation = _citation(record)
    if citation is None:
        return ()
    names = (_text(d) for d in citation.iterfind("MeshHeadingList/MeshHeading/DescriptorName"))
    return tuple(name for name in names if name)


def parse_publication_types(record: ET.Element) -> tuple[str, ...]:
    """Publication types ("Journal Article", "Review", "Retracted Publication", …)."""
    article = _article(record)
    if article is None:
        return ()
    # A BookDocument lists PublicationType elements directly, without a PublicationTypeList.
    path = "PublicationType" if article.tag == "BookDocument" else "PublicationTypeList/*"
    names = (_text(element) for element in article.iterfind(path))
    return tuple(name for name in names if name)


def parse_language(record: ET.Element) -> str:
    """The first ``Language`` code as written (``eng``, ``ger``), or empty."""
    article = _article(record)
    return _text(article.find("Language")) if article is not None else ""


def parse_article(element: ET.Element) -> Article:
    """One ``PubmedArticle`` or ``PubmedBookArticle`` element → :class:`Article`.

    Raises ``ValueError`` for another kind of element or a record without a usable PMID.
    """
    if element.tag not in ("PubmedArticle", "PubmedBookArticle"):
        raise _RecordError(f"<{element.tag}> is not a PubmedArticle or PubmedBookArticle")
    pmid, version = parse_pmid(element)
    return Article(
        pmid=pmid,
        version=version,
        title=parse_title(element),
        abstract_sections=parse_abstract(element),
        journal=parse_journal(element),
        pub_date=parse_pub_date(element),
        doi=parse_doi(element),
        pmcid=parse_pmcid(element),
        mesh_headings=parse_mesh_headings(element),
        publication_types=parse_publication_types(element),
        language=parse_language(element),
        is_book=element.tag == "PubmedBookArticle",
    )


# --- streaming ------------------------------------------------------------------------------


def _records_of(element: ET.Element, source: str) -> Iterator[Record]:
    """What one child of the root stands for; a record that fails becomes a SkippedRecord."""
    if element.tag == "DeleteCitation":
        for pmid_element in element.iterfind("PMID"):
            pmid = (pmid_element.text or "").strip()
            if _is_number(pmid):
                yield Deletion(pmid)
            else:
                yield SkippedRecord(pmid, f"DeleteCitation PMID {pmid!r} is not a number", source)
        return
    if element.tag == "MedlineCitation":  # update files before 2017 had no PubmedArticle wrapper
        wrapper = ET.Element("PubmedArticle")
        wrapper.append(element)
        element = wrapper
    try:
        yield parse_article(element)
    except Exception as exc:  # one bad record must not cost the rest of the file
        citation = _citation(element)
        pmid = (citation.findtext("PMID") or "").strip() if citation is not None else ""
        reason = str(exc) if isinstance(exc, _RecordError) else f"{type(exc).__name__}: {exc}"
        yield SkippedRecord(pmid, reason, source)


class _RootStarted(Exception):
    """Stops the prolog guard: the root element has started, so the DTD is behind us."""


class _PrologGuard:
    """Runs defusedxml over the document up to the root element, refusing any entity."""

    def __init__(self, name: str) -> None:
        self.done = False
        self._name = name
        self._parser = DefusedXMLParser(
            target=self, forbid_dtd=False, forbid_entities=True, forbid_external=True
        )

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        """Parser-target callback for the first (root) element."""
        raise _RootStarted

    def feed(self, chunk: bytes) -> None:
        """Check ``chunk``; syntax errors propagate as the main parser would raise them."""
        try:
            self._parser.feed(chunk)
        except _RootStarted:
            self.done = True
        except DefusedXmlException as exc:
            what = getattr(exc, "name", None) or getattr(exc, "sysid", None) or "?"
            raise ParseError(
                f"{self._name}: refused: the DTD declares entity {what!r}, which PubMed XML never "
                "does (entity expansion and external entities are not allowed)"
            ) from None


def _raw_chunks(source: Source, name: str) -> Iterator[bytes]:
    """The source's bytes in bounded chunks; a file opened here is closed when iteration ends."""
    if isinstance(source, (bytes, bytearray)):
        for start in range(0, len(source), _CHUNK):
            yield bytes(source[start : start + _CHUNK])
    elif isinstance(source, (str, os.PathLike)):
        try:
            with open(source, "rb") as stream:
                yield from _read_stream(stream)
        except OSError as exc:
            raise ParseError(f"{name}: cannot read: {exc.strerror or exc}") from None
    else:
        yield from _read_stream(source)


def _read_stream(stream: BinaryIO) -> Iterator[bytes]:
    while chunk := stream.read(_CHUNK):
        if not isinstance(chunk, (bytes, bytearray)):
            raise TypeError("iter_records needs a binary file object (open it with 'rb')")
        yield bytes(chunk)


def _gunzip(chunks: Iterable[bytes], name: str) -> Iterator[bytes]:
    """Inflate gzip (concatenated members allowed) with output bounded per step, so a small
    file that inflates enormously is never held in memory at once."""
    inflater: zlib._Decompress | None = None
    try:
        for data in chunks:
            while data:
                inflater = inflater or zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
                if output := inflater.decompress(data, _CHUNK):
                    yield output
                if inflater.eof:  # end of a member; whatever follows starts the next one
                    data, inflater = inflater.unused_data, None
                else:
                    data = inflater.unconsumed_tail
        if inflater is not None:
            if output := inflater.flush():
                yield output
            if not inflater.eof:
                raise ParseError(f"{name}: the gzip data ends early (truncated download?)")
    except zlib.error as exc:
        raise ParseError(f"{name}: corrupt gzip data ({exc})") from None


def _xml_chunks(source: Source, name: str) -> Iterator[bytes]:
    """The XML bytes of ``source``, inflated when they start with the gzip magic number."""
    chunks = _raw_chunks(source, name)
    first = next(chunks, b"")
    if first.startswith(_GZIP_MAGIC):
        chunks = _gunzip(chain((first,), chunks), name)
        first = next(chunks, b"")
    if not first:
        raise ParseError(f"{name}: empty file; expected PubMed XML")
    yield first
    yield from chunks


def _top_level(chunks: Iterable[bytes], name: str) -> Iterator[ET.Element]:
    """Each complete child of the root; cleared and detached once the caller is done with it."""
    parser: ET.XMLPullParser[ET.Element] = ET.XMLPullParser(events=("start", "end"))
    guard = _PrologGuard(name)
    root: ET.Element | None = None
    depth = count = 0
    chunk: bytes | None = None
    try:
        for chunk in chain(chunks, (None,)):
            if chunk is None:
                parser.close()  # raises if the document is unfinished
            else:
                try:
                    if not guard.done:
                        guard.feed(chunk)  # before the main parser can expand anything
                    parser.feed(chunk)
                except (LookupError, ValueError) as exc:  # expat cannot read the encoding
                    raise ParseError(f"{name}: not XML (declared encoding: {exc})") from None
            # Only start and end events were asked for, so each event is (name, element).
            for event, element in cast("Iterator[tuple[str, ET.Element]]", parser.read_events()):
                if event == "start":
                    depth += 1
                    if root is None:
                        if element.tag not in _ROOTS:
                            raise ParseError(
                                f"{name}: not PubMed XML: the root element is <{element.tag}>, "
                                "not <PubmedArticleSet>"
                            )
                        root = element
                elif depth == 2 and root is not None:
                    depth = 1
                    count += 1
                    yield element
                    element.clear()
                    del root[:]  # so the tree does not grow with the file
                else:
                    depth -= 1
    except ET.ParseError as exc:
        line, column = getattr(exc, "position", (0, 0))
        reason = str(exc).split(":")[0]
        if root is None:
            problem = f"not XML ({reason} at line {line}, column {column})"
        elif chunk is None:
            problem = f"the XML ends inside an element at line {line} (truncated?)"
        else:
            problem = f"XML syntax error at line {line}, column {column} ({reason})"
        after = f" after {count} records; re-fetch or re-download it" if root is not None else ""
        raise ParseError(f"{name}: {problem}{after}") from None


def iter_records(source: Source, *, source_name: str = "") -> Iterator[Record]:
    """Stream records from PubMed XML: a path (plain or gzip, recognised by its magic number,
    not its name), the bytes of an efetch response, or a binary file object.

    ``source_name`` names the input in errors and SkippedRecords (default: the path, the file
    object's ``name``, or ``<bytes>``). Raises :class:`ParseError` as the module doc describes.
    """
    if source_name:
        name = source_name
    elif isinstance(source, (str, os.PathLike)):
        name = os.fspath(source)
    elif isinstance(source, (bytes, bytearray)):
        name = "<bytes>"
    else:
        name = str(getattr(source, "name", "<stream>"))
    for element in _top_level(_xml_chunks(source, name), name):
        yield from _records_of(element, name)

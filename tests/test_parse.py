"""Tests for :mod:`minemig.parse` on small hand-written PubMed XML (tests/data/pubmed/)."""

from __future__ import annotations

import gzip
import io
import socket
import tracemalloc
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, cast
from xml.sax.saxutils import escape

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minemig import parse
from minemig.errors import ParseError
from minemig.models import AbstractSection, Article, Deletion, PubDate, SkippedRecord
from minemig.parse import iter_records, parse_article

DATA = Path(__file__).parent / "data" / "pubmed"
DOCTYPE = (
    '<!DOCTYPE PubmedArticleSet PUBLIC "-//NLM//DTD PubMedArticle, 1st January 2025//EN" '
    '"https://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_250101.dtd">'
)


def article_xml(
    pmid: str = "90000001",
    *,
    title: str = "A title.",
    abstract: str = "",
    pub_date: str = "<Year>2024</Year>",
    journal: str = "<Title>Journal of Tests</Title>",
    article_extra: str = "",
    citation_extra: str = "",
    pubmed_data: str = "",
) -> str:
    """One PubmedArticle; arguments are XML fragments placed where the DTD puts them."""
    pub_date_xml = f"<PubDate>{pub_date}</PubDate>" if pub_date else ""
    abstract_xml = f"<Abstract>{abstract}</Abstract>" if abstract else ""
    return (
        f'<PubmedArticle><MedlineCitation Status="MEDLINE" Owner="NLM">'
        f'<PMID Version="1">{pmid}</PMID><Article PubModel="Print"><Journal>'
        f"<JournalIssue>{pub_date_xml}</JournalIssue>{journal}</Journal>"
        f"<ArticleTitle>{title}</ArticleTitle>{abstract_xml}{article_extra}</Article>"
        f"{citation_extra}</MedlineCitation><PubmedData>{pubmed_data}</PubmedData></PubmedArticle>"
    )


def document(*records: str, prolog: str = DOCTYPE) -> bytes:
    body = "\n".join(records)
    head = f'<?xml version="1.0" ?>\n{prolog}\n'
    return f"{head}<PubmedArticleSet>\n{body}\n</PubmedArticleSet>\n".encode()


def element(xml: str) -> ET.Element:
    return ET.fromstring(xml)


def one_article(xml: str) -> Article:
    [record] = list(iter_records(document(xml)))
    assert isinstance(record, Article)
    return record


# --- inline markup, whitespace, characters --------------------------------------------------


@pytest.mark.parametrize(
    ("markup", "text"),
    [
        ("CD63<sup>+</sup> exosomes <i>in vitro</i>", "CD63+ exosomes in vitro"),
        (
            "Exosomes <i>in vitro</i> carry CD63<sup>+</sup> cargo",
            "Exosomes in vitro carry CD63+ cargo",
        ),
        ("vitamin D<sub>3</sub> and H<sub>2</sub>O", "vitamin D3 and H2O"),
        ("<b>Bold</b> start and <u>&lt;</u>5 µm", "Bold start and <5 µm"),
        ("<i><b>TSPAN4</b></i>-positive\n\t   vesicles  ", "TSPAN4-positive vesicles"),
        (
            'inhaled <mml:math xmlns:mml="http://www.w3.org/1998/Math/MathML"><mml:msup>'
            "<mml:mi>Ca</mml:mi><mml:mrow><mml:mn>2</mml:mn><mml:mo>+</mml:mo></mml:mrow>"
            "</mml:msup></mml:math> influx",
            "inhaled Ca2+ influx",
        ),
    ],
)
def test_inline_markup_keeps_text_and_spaces(markup: str, text: str) -> None:
    record = element(article_xml(title=markup, abstract=f"<AbstractText>{markup}</AbstractText>"))
    assert parse.parse_title(record) == text
    assert parse.parse_abstract(record) == (AbstractSection(text),)


def test_non_ascii_and_character_references_are_decoded() -> None:
    title = "10&#x2009;&#xb5;m &#x3b1;-actin and &#946;-catenin &#8211; µ α β –"
    assert parse.parse_title(element(article_xml(title=title))) == (
        "10 µm α-actin and β-catenin – µ α β –"
    )


def test_declared_non_utf8_encoding_is_honoured() -> None:
    xml = document(article_xml(title="Caf\u00e9 \u00b5m")).replace(
        b'version="1.0"', b'version="1.0" encoding="ISO-8859-1"'
    )
    [record] = iter_records(xml.decode().encode("latin-1"))
    assert isinstance(record, Article) and record.title == "Café µm"


# --- fields ---------------------------------------------------------------------------------


def test_full_efetch_records() -> None:
    first, second = iter_records(DATA / "efetch_two_articles.xml")
    assert first == Article(
        pmid="90000101",
        version=2,
        title="TSPAN4+ migrasomes carry CD63 in vivo.",
        abstract_sections=(
            AbstractSection(
                "Migrasomes are vesicles of 0.5–3 µm that form on retraction fibres.",
                "BACKGROUND",
                "BACKGROUND",
            ),
            AbstractSection(
                "We imaged L929 cells expressing TSPAN4-GFP (α-tubulin as control) with "
                "confocal microscopy.",
                "METHODS",
                "METHODS",
            ),
            AbstractSection(
                "CD63+ exosomes in vitro differed from migrasomes (p<0.01).", "RESULTS", "RESULTS"
            ),
            AbstractSection("Migrasome cargo is distinct.", "CONCLUSIONS", "CONCLUSIONS"),
        ),
        journal="Journal of Extracellular Vesicle Biology",
        pub_date=PubDate(2024, 3, 15, "2024 Mar 15"),
        doi="10.1000/jevb.2024.0101",
        pmcid="PMC9000101",
        mesh_headings=("Extracellular Vesicles", "Humans"),
        publication_types=("Journal Article", "Review"),
        language="eng",
    )
    assert first.abstract.splitlines()[0].startswith("BACKGROUND: Migrasomes are")
    assert isinstance(second, Article)
    assert second.journal == "Cell Migr Lett"  # no Title: ISOAbbreviation
    assert second.pub_date == PubDate(1998, 12, None, "1998 Dec-1999 Jan")
    assert second.language == "ger"
    assert second.is_retracted and not second.is_retraction_notice
    assert second.abstract_sections == ()  # the only OtherAbstract is German
    assert (second.doi, second.pmcid, second.mesh_headings) == ("", "", ())


def test_structured_abstract_keeps_label_category_and_order() -> None:
    abstract = (
        '<AbstractText Label="PURPOSE" NlmCategory="OBJECTIVE">Why.</AbstractText>'
        '<AbstractText Label="PATIENTS AND METHODS" NlmCategory="METHODS">How.</AbstractText>'
        '<AbstractText Label="UNLABELLED">What.</AbstractText>'
        '<AbstractText Label="EMPTY" NlmCategory="RESULTS"> </AbstractText>'
        '<AbstractText Label="CONCLUSION" NlmCategory="CONCLUSIONS">So.</AbstractText>'
    )
    sections = parse.parse_abstract(element(article_xml(abstract=abstract)))
    assert sections == (
        AbstractSection("Why.", "PURPOSE", "OBJECTIVE"),
        AbstractSection("How.", "PATIENTS AND METHODS", "METHODS"),
        AbstractSection("What.", "UNLABELLED", ""),
        AbstractSection("So.", "CONCLUSION", "CONCLUSIONS"),
    )


def test_other_abstract_only_when_no_abstract_and_english() -> None:
    other = (
        '<OtherAbstract Type="Publisher" Language="chi">'
        "<AbstractText>中文摘要</AbstractText></OtherAbstract>"
        '<OtherAbstract Type="plain-language-summary">'
        "<AbstractText>Plain words.</AbstractText></OtherAbstract>"
    )
    without = element(article_xml(citation_extra=other))
    assert parse.parse_abstract(without) == (AbstractSection("Plain words."),)
    with_abstract = element(
        article_xml(abstract="<AbstractText>Real.</AbstractText>", citation_extra=other)
    )
    assert parse.parse_abstract(with_abstract) == (AbstractSection("Real."),)


@pytest.mark.parametrize(
    ("pub_date", "expected"),
    [
        ("<Year>2024</Year><Month>Jan</Month><Day>05</Day>", PubDate(2024, 1, 5, "2024 Jan 05")),
        ("<Year>2018</Year><Month>05</Month>", PubDate(2018, 5, None, "2018 05")),
        ("<Year>2018</Year><Month>sep</Month><Day>31</Day>", PubDate(2018, 9, None, "2018 sep 31")),
        ("<Year>2020</Year><Month>Feb</Month><Day>29</Day>", PubDate(2020, 2, 29, "2020 Feb 29")),
        ("<Year>1973</Year>", PubDate(1973, None, None, "1973")),
        ("<Year>1990</Year><Season>Spring</Season>", PubDate(1990, None, None, "1990 Spring")),
        ("<Year>2018</Year><Season>Jan-Feb</Season>", PubDate(2018, 1, None, "2018 Jan-Feb")),
        (
            "<MedlineDate>1998 Dec-1999 Jan</MedlineDate>",
            PubDate(1998, 12, None, "1998 Dec-1999 Jan"),
        ),
        ("<MedlineDate>2000 Spring</MedlineDate>", PubDate(2000, None, None, "2000 Spring")),
        ("<MedlineDate>2015 Oct-Dec</MedlineDate>", PubDate(2015, 10, None, "2015 Oct-Dec")),
        ("<MedlineDate>2019 Sep/Oct</MedlineDate>", PubDate(2019, 9, None, "2019 Sep/Oct")),
        ("<MedlineDate>2001 Dec 23-30</MedlineDate>", PubDate(2001, 12, None, "2001 Dec 23-30")),
        ("<MedlineDate>Summer 2001</MedlineDate>", PubDate(2001, None, None, "Summer 2001")),
    ],
)
def test_pub_date_forms(pub_date: str, expected: PubDate) -> None:
    assert parse.parse_pub_date(element(article_xml(pub_date=pub_date))) == expected


def test_pub_date_falls_back_to_article_date_then_history() -> None:
    article_date = (
        '<ArticleDate DateType="Electronic"><Year>2023</Year><Month>11</Month>'
        "<Day>02</Day></ArticleDate>"
    )
    history = (
        '<History><PubMedPubDate PubStatus="entrez"><Year>2022</Year><Month>3</Month>'
        '<Day>4</Day></PubMedPubDate><PubMedPubDate PubStatus="pubmed"><Year>2022</Year>'
        "<Month>3</Month><Day>5</Day></PubMedPubDate></History>"
    )
    both = element(article_xml(pub_date="", article_extra=article_date, pubmed_data=history))
    assert parse.parse_pub_date(both) == PubDate(2023, 11, 2, "2023 11 02")
    unreadable = "<MedlineDate>n.d.</MedlineDate>"
    only_history = element(article_xml(pub_date=unreadable, pubmed_data=history))
    assert parse.parse_pub_date(only_history) == PubDate(2022, 3, 5, "2022 3 5")
    assert parse.parse_pub_date(element(article_xml(pub_date=""))) == PubDate()


def test_doi_and_pmcid_sources() -> None:
    ids = (
        '<ArticleIdList><ArticleId IdType="pubmed">1</ArticleId><ArticleId IdType="pmc">PMC42'
        '</ArticleId><ArticleId IdType="doi">10.1/from-ids</ArticleId></ArticleIdList>'
    )
    location = '<ELocationID EIdType="doi" ValidYN="Y">10.1/from-elocation</ELocationID>'
    invalid = '<ELocationID EIdType="doi" ValidYN="N">10.1/invalid</ELocationID>'
    references = (
        '<ReferenceList><Reference><ArticleIdList><ArticleId IdType="doi">10.1/cited'
        '</ArticleId><ArticleId IdType="pmc">PMC7</ArticleId></ArticleIdList></Reference>'
        "</ReferenceList>"
    )
    record = element(article_xml(article_extra=location, pubmed_data=ids))
    assert (parse.parse_doi(record), parse.parse_pmcid(record)) == ("10.1/from-ids", "PMC42")
    record = element(article_xml(article_extra=location))
    assert parse.parse_doi(record) == "10.1/from-elocation"
    record = element(article_xml(article_extra=invalid, pubmed_data=references))
    assert (parse.parse_doi(record), parse.parse_pmcid(record)) == ("", "")


def test_mesh_publication_types_and_language() -> None:
    article_extra = (
        "<Language>eng</Language><Language>fre</Language><PublicationTypeList>"
        "<PublicationType>Published Erratum</PublicationType>"
        "<PublicationType>Retraction of Publication</PublicationType>"
        "<PublicationType>Review</PublicationType></PublicationTypeList>"
    )
    mesh = (
        '<MeshHeadingList><MeshHeading><DescriptorName MajorTopicYN="Y">Cell Movement'
        '</DescriptorName><QualifierName MajorTopicYN="N">physiology</QualifierName>'
        "</MeshHeading><MeshHeading><DescriptorName>Tetraspanins</DescriptorName>"
        "</MeshHeading></MeshHeadingList>"
    )
    article = one_article(article_xml(article_extra=article_extra, citation_extra=mesh))
    assert article.mesh_headings == ("Cell Movement", "Tetraspanins")
    assert article.publication_types == ("Published Erratum", "Retraction of Publication", "Review")
    assert article.is_retraction_notice and not article.is_retracted
    assert article.language == "eng"


def test_journal_falls_back_to_medline_ta() -> None:
    record = element(
        article_xml(
            journal="",
            citation_extra="<MedlineJournalInfo><MedlineTA>J Test</MedlineTA></MedlineJournalInfo>",
        )
    )
    assert parse.parse_journal(record) == "J Test"


def test_book_article() -> None:
    [book] = iter_records(DATA / "book_chapter.xml")
    assert book == Article(
        pmid="90000201",
        title="TSPAN4-Related Migrasome Disorders",
        abstract_sections=(
            AbstractSection(
                "Loss of TSPAN4 reduces migrasome formation.", "CLINICAL CHARACTERISTICS"
            ),
            AbstractSection("Diagnosis relies on imaging.", "DIAGNOSIS/TESTING"),
        ),
        journal="VesicleReviews®",
        pub_date=PubDate(2021, raw="2021"),
        publication_types=("Review",),
        language="eng",
        is_book=True,
    )


def test_whole_book_without_chapter_title_uses_book_title() -> None:
    record = element(
        "<PubmedBookArticle><BookDocument><PMID>5</PMID><Book><BookTitle>Atlas of "
        "<i>Vesicles</i></BookTitle></Book></BookDocument></PubmedBookArticle>"
    )
    assert parse.parse_title(record) == "Atlas of Vesicles"
    assert parse_article(record).pmid == "5"


def test_parse_article_rejects_other_elements() -> None:
    with pytest.raises(ValueError, match="not a PubmedArticle"):
        parse_article(element("<MedlineCitation><PMID>1</PMID></MedlineCitation>"))


# --- deletions and record-level problems ----------------------------------------------------


def test_delete_citation_yields_one_deletion_per_pmid() -> None:
    records = list(iter_records(DATA / "update_with_deletions.xml"))
    assert [r.pmid for r in records if isinstance(r, Article)] == ["90000301", "90000302"]
    assert records[2:] == [Deletion("90000001"), Deletion("90000002")]


def test_legacy_medline_citation_set() -> None:
    article, deletion = iter_records(DATA / "legacy_medline_update.xml")
    assert isinstance(article, Article)
    assert (article.pmid, article.doi, article.pub_date.iso()) == (
        "90000401",
        "10.1000/avr.2015.401",
        "2015-10",
    )
    assert deletion == Deletion("90000003")


def test_malformed_records_are_skipped_and_neighbours_kept() -> None:
    xml = document(
        article_xml("90000001"),
        article_xml("").replace('<PMID Version="1"></PMID>', ""),
        article_xml("12a"),
        article_xml("90000004").replace('Version="1"', 'Version="x"'),
        "<Unexpected/>",
        "<DeleteCitation><PMID>oops</PMID><PMID>90000009</PMID></DeleteCitation>",
        article_xml("90000005"),
    )
    records = list(iter_records(xml, source_name="batch-7.xml"))
    assert records == [
        one_article(article_xml("90000001")),
        SkippedRecord("", "no PMID", "batch-7.xml"),
        SkippedRecord("12a", "PMID '12a' is not a number", "batch-7.xml"),
        SkippedRecord("90000004", "PMID 90000004 has version 'x', not a number", "batch-7.xml"),
        SkippedRecord(
            "", "<Unexpected> is not a PubmedArticle or PubmedBookArticle", "batch-7.xml"
        ),
        SkippedRecord("oops", "DeleteCitation PMID 'oops' is not a number", "batch-7.xml"),
        Deletion("90000009"),
        one_article(article_xml("90000005")),
    ]


def test_exception_in_a_field_helper_skips_only_that_record(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = parse.parse_title

    def flaky_title(record: ET.Element) -> str:
        if parse.parse_pmid(record)[0] == "90000002":
            raise RuntimeError("boom")
        return real(record)

    monkeypatch.setattr(parse, "parse_title", flaky_title)
    xml = document(*(article_xml(f"9000000{i}") for i in (1, 2, 3)))
    records = list(iter_records(xml))
    assert records[1] == SkippedRecord("90000002", "RuntimeError: boom", "<bytes>")
    assert [r.pmid for r in records] == ["90000001", "90000002", "90000003"]


# --- inputs ---------------------------------------------------------------------------------


def pmids(source: parse.Source, **kwargs: str) -> list[str]:
    return [record.pmid for record in iter_records(source, **kwargs)]


def test_input_kinds(tmp_path: Path) -> None:
    expected = ["90000101", "90000102"]
    raw = (DATA / "efetch_two_articles.xml").read_bytes()
    assert pmids(DATA / "efetch_two_articles.xml") == expected
    assert pmids(str(DATA / "efetch_two_articles.xml")) == expected
    assert pmids(raw) == expected
    assert pmids(bytearray(raw)) == expected
    assert pmids(io.BytesIO(raw)) == expected
    gz = tmp_path / "pubmed25n0001.xml.gz"
    gz.write_bytes(gzip.compress(raw))
    assert pmids(gz) == expected
    with gz.open("rb") as stream:
        assert pmids(stream) == expected
    assert pmids(gzip.compress(raw)) == expected


def test_gzip_detected_by_magic_bytes_not_name(tmp_path: Path) -> None:
    raw = (DATA / "efetch_two_articles.xml").read_bytes()
    disguised = tmp_path / "efetch.xml"
    disguised.write_bytes(gzip.compress(raw))
    plain_named_gz = tmp_path / "efetch.xml.gz"
    plain_named_gz.write_bytes(raw)
    assert pmids(disguised) == pmids(plain_named_gz) == ["90000101", "90000102"]


def test_concatenated_gzip_members() -> None:
    raw = (DATA / "efetch_two_articles.xml").read_bytes()
    middle = len(raw) // 2
    data = gzip.compress(raw[:middle]) + gzip.compress(raw[middle:])
    assert pmids(data) == ["90000101", "90000102"]


# --- file-level errors ----------------------------------------------------------------------


def test_truncated_xml_yields_earlier_records_then_fails(tmp_path: Path) -> None:
    xml = document(*(article_xml(f"9000000{i}") for i in (1, 2, 3)))
    cut = xml[: xml.index(b"90000003") + 20]
    path = tmp_path / "cut.xml"
    path.write_bytes(cut)
    records = iter_records(path)
    assert [next(records).pmid, next(records).pmid] == ["90000001", "90000002"]
    with pytest.raises(ParseError, match=r"cut\.xml: the XML ends inside an element at line 6"):
        next(records)


def test_syntax_error_part_way_names_file_and_line() -> None:
    broken = article_xml("90000002").replace("</ArticleTitle>", "</Title>")
    xml = document(article_xml("90000001"), broken, article_xml("90000003"))
    seen: list[str] = []
    with pytest.raises(ParseError) as caught:
        seen.extend(record.pmid for record in iter_records(xml, source_name="efetch-1.xml"))
    assert seen == ["90000001"]
    message = str(caught.value)
    assert message.startswith("[M400] efetch-1.xml: XML syntax error at line 5, column")
    assert "mismatched tag" in message and "after 1 records" in message


def test_truncated_gzip_yields_earlier_records_then_fails() -> None:
    xml = document(*(article_xml(f"9000000{i}") for i in range(1, 10)))
    data = gzip.compress(xml)[:-12]
    seen: list[str] = []
    with pytest.raises(ParseError, match=r"update\.xml\.gz: the gzip data ends early"):
        seen.extend(record.pmid for record in iter_records(data, source_name="update.xml.gz"))
    assert seen


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty file"),
        (gzip.compress(b""), "empty file"),
        (b"Unable to route request! service name: /http/service/ratecontrol\n", "not XML"),
        (b'{"error":"API rate limit exceeded","count":"11"}', "not XML"),
        (
            b"<!DOCTYPE html>\n<html><head><title>WWW Error 500</title><meta charset=utf-8>",
            "root element is <html>",
        ),
        (
            b"<eFetchResult>\n\t<ERROR>Unable to obtain query #1</ERROR>\n</eFetchResult>",
            "<eFetchResult>",
        ),
        (b"\x1f\x8b\x08\x00garbage-not-deflate" * 3, "corrupt gzip data"),
        (b"\x00\x01\x02binary", "not XML"),
    ],
)
def test_not_pubmed_xml_fails_before_yielding(tmp_path: Path, data: bytes, message: str) -> None:
    path = tmp_path / "response.xml"
    path.write_bytes(data)
    records = iter_records(path)
    with pytest.raises(ParseError) as caught:
        next(records)
    text = str(caught.value)
    assert str(path) in text and message in text and "\n" not in text


def test_missing_file() -> None:
    with pytest.raises(ParseError, match=r"nowhere\.xml: cannot read"):
        list(iter_records("nowhere.xml"))


def test_empty_article_set_is_fine() -> None:
    assert list(iter_records(b'<?xml version="1.0"?><PubmedArticleSet></PubmedArticleSet>')) == []


# --- hostile documents and the network ------------------------------------------------------

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE PubmedArticleSet [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<PubmedArticleSet><PubmedArticle><MedlineCitation><PMID>1</PMID><Article>
<ArticleTitle>&lol3;</ArticleTitle></Article></MedlineCitation></PubmedArticle></PubmedArticleSet>
"""
SYSTEM_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE PubmedArticleSet [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<PubmedArticleSet><PubmedArticle><MedlineCitation><PMID>1</PMID><Article>
<ArticleTitle>&xxe;</ArticleTitle></Article></MedlineCitation></PubmedArticle></PubmedArticleSet>
"""
PARAMETER_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE PubmedArticleSet [<!ENTITY % dtd SYSTEM "http://127.0.0.1:9/evil.dtd"> %dtd;]>
<PubmedArticleSet></PubmedArticleSet>
"""
EXTERNAL_SUBSET = b"""<?xml version="1.0"?>
<!DOCTYPE PubmedArticleSet SYSTEM "http://127.0.0.1:9/evil.dtd">
<PubmedArticleSet><PubmedArticle><MedlineCitation><PMID>1</PMID><Article>
<ArticleTitle>&xxe;</ArticleTitle></Article></MedlineCitation></PubmedArticle></PubmedArticleSet>
"""


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[object]]:
    attempts: list[object] = []

    def refuse(self: socket.socket, address: object) -> None:
        attempts.append(address)
        raise OSError("network use during parsing")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    yield attempts
    assert attempts == []


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (BILLION_LAUGHS, "refused: the DTD declares entity 'lol'"),
        (SYSTEM_ENTITY, "refused: the DTD declares entity 'xxe'"),
        (PARAMETER_ENTITY, "refused: the DTD declares entity 'dtd'"),
        (EXTERNAL_SUBSET, "undefined entity &xxe;"),
    ],
)
def test_hostile_documents_are_refused(no_network: list[object], data: bytes, message: str) -> None:
    with pytest.raises(ParseError, match=message) as caught:
        list(iter_records(data, source_name="hostile.xml"))
    assert "hostile.xml" in str(caught.value)


def test_pubmed_doctype_is_accepted_without_network(no_network: list[object]) -> None:
    assert pmids(DATA / "efetch_two_articles.xml") == ["90000101", "90000102"]
    assert pmids(DATA / "legacy_medline_update.xml") == ["90000401", "90000003"]


# --- streaming and properties ---------------------------------------------------------------


class GeneratedStream:
    """A PubmedArticleSet written on demand, so the input never sits in memory whole."""

    def __init__(self, count: int) -> None:
        self._parts = self._generate(count)

    @staticmethod
    def _generate(count: int) -> Iterator[bytes]:
        yield b'<?xml version="1.0" ?>\n<PubmedArticleSet>\n'
        abstract = "<AbstractText>" + "text " * 200 + "</AbstractText>"
        for i in range(count):
            yield article_xml(str(90000000 + i), abstract=abstract).encode()
        yield b"</PubmedArticleSet>\n"

    def read(self, size: int = -1) -> bytes:
        return next(self._parts, b"")


def test_memory_stays_bounded_while_streaming() -> None:
    count = 3000  # about 4 MB of XML
    stream = cast(BinaryIO, GeneratedStream(count))
    tracemalloc.start()
    try:
        seen = sum(1 for _ in iter_records(stream))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert seen == count
    assert peak < 1_500_000, f"peak {peak} bytes: records are not being released"


XML_TEXT = st.text(
    # Everything XML 1.0 allows: no surrogates, no controls but tab, newline, CR and NEL.
    alphabet=st.characters(exclude_categories=["Cs", "Cc", "Cn"], include_characters="\t\n\r\x85"),
    max_size=200,
)


@settings(max_examples=150, deadline=None)
@given(text=XML_TEXT)
def test_any_abstract_text_round_trips(text: str) -> None:
    xml = article_xml(abstract=f"<AbstractText>{escape(text)}</AbstractText>")
    [record] = list(iter_records(document(xml)))
    assert isinstance(record, Article)
    assert record.abstract == " ".join(text.split())


@settings(max_examples=100, deadline=None)
@given(
    fragments=st.lists(XML_TEXT, min_size=1, max_size=6),
    tags=st.lists(st.sampled_from(["i", "b", "u", "sup", "sub"]), min_size=5, max_size=5),
)
def test_inline_markup_never_glues_or_splits_words(fragments: list[str], tags: list[str]) -> None:
    # Alternate plain and marked-up fragments: the text must read as if the tags were absent.
    pieces = [
        escape(text) if i % 2 == 0 else f"<{tags[i % 5]}>{escape(text)}</{tags[i % 5]}>"
        for i, text in enumerate(fragments)
    ]
    record = element(article_xml(abstract=f"<AbstractText>{''.join(pieces)}</AbstractText>"))
    expected = " ".join("".join(fragments).split())
    assert parse.parse_abstract(record) == ((AbstractSection(expected),) if expected else ())

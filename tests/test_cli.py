"""The command line end to end: ``minemig.cli.main`` in-process, and once as ``python -m minemig``.

Every test runs the real commands on realistic PubMed XML (written with :mod:`pubmed_xml`) or
against the loopback E-utilities server, with the database and the data directory inside
``tmp_path``. The spaCy pipeline is built once per key and shared (building it is the slow
part); everything else is the code a user runs.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import cli_runner
import pytest
from cli_runner import run_cli, share_readers
from eutils_server import EutilsServer, Fault
from pubmed_xml import Record, article_xml, write_article_set

from minemig import cli, fetch
from minemig.models import AbstractSection

REPO = Path(__file__).resolve().parent.parent
API_KEY = "secret-key-123"
DESIGN_FINDING_FIELDS = (
    "pmid",
    "ev_type",
    "category",
    "entity",
    "entity_id",
    "status",
    "negated",
    "speculative",
    "evidence",
)
ARTICLE_FIELDS = (
    "pmid",
    "title",
    "abstract",
    "journal",
    "year",
    "pub_date",
    "doi",
    "publication_types",
)
SUMMARY = re.compile(
    r"^(?P<command>\w+): (?P<read>\d+) records read: (?P<new>\d+) new, (?P<updated>\d+) updated,"
    r" (?P<unchanged>\d+) unchanged, (?P<deleted>\d+) deleted, (?P<skipped>\d+) skipped;"
    r" (?P<extracted>\d+) read for findings, (?P<findings>\d+) findings stored$"
)

# -- the corpus -----------------------------------------------------------------------------

MARKER_SENTENCE = "TSPAN4-positive migrasomes were enriched in PLD1 in L929 cells."
EXOSOME_SENTENCE = "Exosomes carry CD63 and were isolated by ultracentrifugation."
SIZE_SENTENCE = "Migrasomes had a diameter of 0.5-3 µm."

MARKERS = Record(
    "38000101",
    title="Migrasome markers in murine fibroblasts.",
    abstract=(
        "Exosomes are small vesicles released when multivesicular bodies fuse with the plasma"
        f" membrane. {EXOSOME_SENTENCE} {MARKER_SENTENCE}"
    ),
    journal="Cell Research",
    pub_date="2024-03-05",
    entrez_date=date(2024, 3, 6),
    doi="10.1038/s41422-024-00001-x",
    publication_types=("Journal Article", "Research Support, Non-U.S. Gov't"),
)
SIZES = Record(
    "38000102",
    title="Migrasome size in neutrophils.",
    abstract=(
        AbstractSection("Migrasomes form on retraction fibres of migrating cells.", "BACKGROUND"),
        AbstractSection(SIZE_SENTENCE, "RESULTS"),
    ),
    journal="Journal of Cell Biology",
    pub_date="2023-07",
    entrez_date=date(2023, 7, 12),
    publication_types=("Journal Article", "Review"),
)
CARGO = Record(
    "38000103",
    title="Migrasomes carry CXCL12 in zebrafish gastrulas.",
    abstract="Migrasomes carry CXCL12 and were detected by electron microscopy.",
    journal="Developmental Cell",
    pub_date="2024-05-20",
    entrez_date=date(2024, 5, 21),
)
UNRELATED = Record(
    "38000199",
    title="Exosome biogenesis in hepatocytes.",
    abstract="Exosomes carry CD81 in hepatocytes.",
    entrez_date=date(2024, 4, 2),
)


@dataclass(frozen=True)
class Result(cli_runner.Result):
    def summary(self) -> dict[str, Any]:
        """The one-line summary of ingest (stdout) or search (last stderr line)."""
        line = self.out.strip() if self.out.startswith("ingest:") else self.err_lines[-1]
        match = SUMMARY.match(line)
        assert match, f"not a summary line: {line!r}"
        return {k: v if k == "command" else int(v) for k, v in match.groupdict().items()}


Run = Callable[..., Result]


# -- fixtures -------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing outside tmp_path, nothing from the user's environment, never the real NCBI."""
    monkeypatch.setenv("MINEMIG_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MINEMIG_DB", str(tmp_path / "store.sqlite"))
    monkeypatch.setenv("MINEMIG_EUTILS_URL", "http://127.0.0.1:9/entrez/eutils/")
    monkeypatch.setenv("NCBI_EMAIL", "tests@example.org")
    monkeypatch.setenv("COLUMNS", "80")
    for name in ("NCBI_API_KEY", "MINEMIG_PIPELINES_DIR", "MINEMIG_SCISPACY_MODEL"):
        monkeypatch.delenv(name, raising=False)
    share_readers(monkeypatch)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "store.sqlite"


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Run:
    """``minemig ARGS...`` in-process: exit status, stdout, stderr."""
    return lambda *args: run_cli(capsys, *args, result=Result)


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[object]]:
    attempts: list[object] = []

    def refuse(self: socket.socket, address: object) -> None:
        attempts.append(address)
        raise OSError("network use where there must be none")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    yield attempts
    assert attempts == []


@pytest.fixture
def backoff(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Retries without real sleeping: the client's backoff sleeps are recorded instead."""
    sleeps: list[float] = []
    real = fetch.EutilsClient

    class Client(real):  # type: ignore[misc, valid-type]
        def __init__(self, settings: Any, **options: Any) -> None:
            options.setdefault("sleep", sleeps.append)
            super().__init__(settings, **options)

    monkeypatch.setattr(fetch, "EutilsClient", Client)
    return sleeps


@pytest.fixture
def pubmed(eutils_server: EutilsServer, monkeypatch: pytest.MonkeyPatch) -> EutilsServer:
    """The loopback server with three migrasome papers and one exosome paper, and a key set."""
    monkeypatch.setenv("NCBI_API_KEY", API_KEY)
    eutils_server.add(MARKERS, SIZES, CARGO, UNRELATED)
    return eutils_server


def write(path: Path, *records: Record | str, deleted: tuple[str, ...] = ()) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_article_set(path, records, deleted_pmids=deleted)


def stored(db: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    connection = sqlite3.connect(db)
    try:
        return list(connection.execute(sql, params))
    finally:
        connection.close()


def one_error_line(result: Result, code: int = 1) -> str:
    """The contract for a failure: the exit status and exactly one ``Error:`` line."""
    assert result.code == code, result
    assert len(result.err_lines) == 1, result.err
    line = result.err_lines[0]
    assert line.startswith("Error: "), line
    assert "Traceback" not in result.err
    return line


def last_error_line(result: Result, code: int = 1) -> str:
    """The exit status and an ``Error:`` line last on stderr (one-line-ness is tested apart)."""
    assert result.code == code, result
    line = result.err_lines[-1]
    assert line.startswith("Error: "), line
    assert "Traceback" not in result.err
    return line


def finding(rows: list[dict[str, Any]], **match: Any) -> dict[str, Any]:
    found = [r for r in rows if all(r.get(k) == v for k, v in match.items())]
    assert len(found) == 1, (match, rows)
    return found[0]


# -- ingest -----------------------------------------------------------------------------------


def test_ingest_xml_gzip_and_a_folder(run: Run, tmp_path: Path, db: Path) -> None:
    plain = write(tmp_path / "efetch.xml", MARKERS)
    packed = write(tmp_path / "pubmed25n0001.xml.gz", SIZES)
    folder = tmp_path / "updates"
    write(folder / "b.xml", CARGO)
    write(folder / "a.xml.gz", UNRELATED)
    (folder / "README.txt").write_text("not PubMed XML, and not read")
    assert gzip.decompress(packed.read_bytes()).startswith(b"<?xml")  # really compressed

    result = run("ingest", plain, packed, folder)

    assert result.code == 0, result
    assert result.err == ""
    assert len(result.out.splitlines()) == 1
    summary = result.summary()
    assert summary | {"findings": 0} == {
        "command": "ingest",
        "read": 4,
        "new": 4,
        "updated": 0,
        "unchanged": 0,
        "deleted": 0,
        "skipped": 0,
        "extracted": 4,
        "findings": 0,
    }
    assert summary["findings"] == stored(db, "SELECT COUNT(*) FROM findings")[0][0] > 0
    assert stored(db, "SELECT pmid FROM articles ORDER BY pmid") == [
        ("38000101",),
        ("38000102",),
        ("38000103",),
        ("38000199",),
    ]
    assert stored(db, "SELECT command, status, pipeline FROM runs") == [
        ("ingest", "ok", "migrasome")
    ]


def test_a_second_ingest_of_the_same_file_changes_and_reads_nothing(
    run: Run, tmp_path: Path, db: Path
) -> None:
    path = write(tmp_path / "efetch.xml.gz", MARKERS, SIZES)
    first = run("ingest", path)
    findings_before = run("export", "findings").out

    second = run("ingest", path)

    assert first.summary()["new"] == 2
    assert second.code == 0, second
    assert second.summary() == {
        "command": "ingest",
        "read": 2,
        "new": 0,
        "updated": 0,
        "unchanged": 2,
        "deleted": 0,
        "skipped": 0,
        "extracted": 0,
        "findings": 0,
    }
    assert run("export", "findings").out == findings_before
    assert stored(db, "SELECT COUNT(*) FROM articles") == [(2,)]
    assert stored(db, "SELECT status FROM runs ORDER BY id") == [("ok",), ("ok",)]


def test_ingest_no_findings_stores_articles_only(run: Run, tmp_path: Path, db: Path) -> None:
    path = write(tmp_path / "efetch.xml", MARKERS, SIZES)

    result = run("ingest", path, "--no-findings")

    assert result.code == 0, result
    summary = result.summary()
    assert (summary["new"], summary["extracted"], summary["findings"]) == (2, 0, 0)
    assert stored(db, "SELECT COUNT(*) FROM articles UNION ALL SELECT COUNT(*) FROM findings") == [
        (2,),
        (0,),
    ]
    # Read later, the articles are not new any more but their findings are.
    later = run("ingest", path).summary()
    assert (later["unchanged"], later["extracted"]) == (2, 2) and later["findings"] > 0


def test_a_revised_record_is_updated_and_read_again(run: Run, tmp_path: Path) -> None:
    run("ingest", write(tmp_path / "v1.xml", MARKERS, SIZES))
    revised = Record(
        MARKERS.pmid,
        title="Migrasome markers in murine fibroblasts (corrected).",
        abstract=MARKER_SENTENCE,
        version=2,
        journal=MARKERS.journal,
        pub_date=MARKERS.pub_date,
        doi=MARKERS.doi,
        publication_types=MARKERS.publication_types,
    )

    result = run("ingest", write(tmp_path / "v2.xml", revised, SIZES))

    assert result.code == 0, result
    summary = result.summary()
    assert (summary["read"], summary["new"], summary["updated"], summary["unchanged"]) == (
        2,
        0,
        1,
        1,
    )
    assert summary["extracted"] == 1
    articles = {a["pmid"]: a for a in run("export", "articles").jsonl()}
    assert articles[MARKERS.pmid]["title"] == revised.title
    assert articles[MARKERS.pmid]["version"] == 2
    assert articles[MARKERS.pmid]["revised"] == 1
    assert articles[SIZES.pmid]["revised"] == 0
    evidence = {f["evidence"] for f in run("export", "findings").jsonl()}
    assert EXOSOME_SENTENCE not in evidence  # the revised abstract no longer says it


def test_a_delete_citation_file_deletes(run: Run, tmp_path: Path) -> None:
    run("ingest", write(tmp_path / "base.xml", MARKERS, SIZES))

    result = run("ingest", write(tmp_path / "update.xml", deleted=(MARKERS.pmid, "38999999")))

    assert result.code == 0, result
    summary = result.summary()
    assert (summary["read"], summary["deleted"], summary["new"], summary["skipped"]) == (2, 1, 0, 0)
    assert [a["pmid"] for a in run("export", "articles").jsonl()] == [SIZES.pmid]
    assert {f["pmid"] for f in run("export", "findings").jsonl()} == {SIZES.pmid}


def test_a_malformed_record_is_skipped_and_its_neighbours_stored(run: Run, tmp_path: Path) -> None:
    broken = article_xml(Record("3800010x", title="A record whose PMID is not a number."))
    path = write(tmp_path / "batch-7.xml", MARKERS, broken, CARGO)

    result = run("ingest", path)

    assert result.code == 0, result
    summary = result.summary()
    assert (summary["read"], summary["new"], summary["skipped"]) == (3, 2, 1)
    assert result.err_lines == [
        f"minemig: skipped PMID 3800010x in {path}: PMID '3800010x' is not a number"
    ]
    assert [a["pmid"] for a in run("export", "articles").jsonl()] == [MARKERS.pmid, CARGO.pmid]


def truncated(path: Path) -> Path:
    records = (MARKERS, SIZES, CARGO)
    data = write(path, *records).read_bytes()
    path.write_bytes(data[: data.index(CARGO.pmid.encode()) + 40])
    return path


def test_a_truncated_file_fails_naming_the_file(run: Run, tmp_path: Path, db: Path) -> None:
    path = truncated(tmp_path / "cut.xml")

    result = run("ingest", path)

    line = last_error_line(result)
    assert str(path) in line and "truncated" in line and "re-fetch" in line
    assert result.out == ""
    ((status, error),) = stored(db, "SELECT status, error FROM runs")
    assert status == "failed" and str(path) in error


def test_a_truncated_file_keeps_the_records_before_the_break(
    run: Run, tmp_path: Path, db: Path
) -> None:
    assert run("ingest", truncated(tmp_path / "cut.xml")).code == 1
    assert [a["pmid"] for a in run("export", "articles").jsonl()] == [MARKERS.pmid, SIZES.pmid]
    ((counts,),) = stored(db, "SELECT counts FROM runs")
    assert json.loads(counts)["new"] == 2


def corrupt_gzip(path: Path) -> Path:
    path.write_bytes(b"\x1f\x8b\x08\x00" + b"garbage-that-is-not-deflate" * 4)
    return path


def not_xml(path: Path) -> Path:
    path.write_text("Unable to route request! service name: /http/service/ratecontrol\n")
    return path


def billion_laughs(path: Path) -> Path:
    laughs = "".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10))
    path.write_text(
        '<?xml version="1.0"?>\n'
        f'<!DOCTYPE PubmedArticleSet [<!ENTITY lol0 "lol">{laughs}]>\n'
        "<PubmedArticleSet><PubmedArticle><MedlineCitation><PMID>1</PMID><Article>"
        "<ArticleTitle>&lol9;</ArticleTitle></Article></MedlineCitation></PubmedArticle>"
        "</PubmedArticleSet>\n"
    )
    return path


@pytest.mark.parametrize(
    ("name", "make", "message"),
    [
        ("pubmed25n0002.xml.gz", corrupt_gzip, "corrupt gzip data"),
        ("efetch.xml", not_xml, "not XML"),
        ("laughs.xml", billion_laughs, "refused: the DTD declares entity"),
    ],
)
def test_a_bad_file_fails_and_nothing_stored_before_is_lost(
    run: Run,
    tmp_path: Path,
    db: Path,
    name: str,
    make: Callable[[Path], Path],
    message: str,
) -> None:
    run("ingest", write(tmp_path / "good.xml", MARKERS, SIZES))
    articles_before = run("export", "articles").out
    findings_before = run("export", "findings").out
    bad = make(tmp_path / name)

    result = run("ingest", bad)

    line = last_error_line(result)
    assert str(bad) in line and message in line
    assert run("export", "articles").out == articles_before
    assert run("export", "findings").out == findings_before
    assert stored(db, "SELECT status FROM runs ORDER BY id") == [("ok",), ("failed",)]


def test_every_file_is_tried_when_one_is_bad(run: Run, tmp_path: Path) -> None:
    bad = corrupt_gzip(tmp_path / "a-corrupt.xml.gz")
    good = write(tmp_path / "b-good.xml", MARKERS)

    result = run("ingest", bad, good)

    assert str(bad) in last_error_line(result)
    assert [a["pmid"] for a in run("export", "articles").jsonl()] == [MARKERS.pmid]


@pytest.mark.parametrize("make", [truncated, corrupt_gzip, not_xml, billion_laughs])
def test_a_failing_ingest_prints_exactly_one_line(
    run: Run, tmp_path: Path, make: Callable[[Path], Path]
) -> None:
    one_error_line(run("ingest", make(tmp_path / "input.xml")))


def test_a_missing_input_file_is_a_usage_error(run: Run, tmp_path: Path, db: Path) -> None:
    line = one_error_line(run("ingest", tmp_path / "nowhere.xml"), code=2)
    assert "nowhere.xml" in line and "does not exist" in line
    assert not db.exists()


# -- export -----------------------------------------------------------------------------------


@pytest.fixture
def ingested(run: Run, tmp_path: Path) -> None:
    result = run("ingest", write(tmp_path / "efetch.xml", MARKERS, SIZES, CARGO))
    assert result.code == 0, result


@pytest.mark.usefixtures("ingested")
def test_export_articles_jsonl(run: Run) -> None:
    result = run("export", "articles", "--format", "jsonl")

    assert result.code == 0, result
    assert result.err == ""
    rows = result.jsonl()
    assert [r["pmid"] for r in rows] == [MARKERS.pmid, SIZES.pmid, CARGO.pmid]
    assert all(set(ARTICLE_FIELDS) <= set(r) for r in rows)
    markers, sizes = rows[0], rows[1]
    assert {k: markers[k] for k in ARTICLE_FIELDS} == {
        "pmid": "38000101",
        "title": MARKERS.title,
        "abstract": MARKERS.abstract,
        "journal": "Cell Research",
        "year": 2024,
        "pub_date": "2024-03-05",
        "doi": "10.1038/s41422-024-00001-x",
        "publication_types": ["Journal Article", "Research Support, Non-U.S. Gov't"],
    }
    assert {k: sizes[k] for k in ARTICLE_FIELDS} == {
        "pmid": "38000102",
        "title": SIZES.title,
        "abstract": (
            "BACKGROUND: Migrasomes form on retraction fibres of migrating cells.\n"
            f"RESULTS: {SIZE_SENTENCE}"
        ),
        "journal": "Journal of Cell Biology",
        "year": 2023,
        "pub_date": "2023-07",
        "doi": "",
        "publication_types": ["Journal Article", "Review"],
    }


@pytest.mark.usefixtures("ingested")
def test_export_articles_csv(run: Run) -> None:
    result = run("export", "articles", "--format", "csv")

    assert result.code == 0, result
    header = result.out.splitlines()[0].split(",")
    assert set(ARTICLE_FIELDS) <= set(header)
    rows = {r["pmid"]: r for r in result.csv()}
    assert list(rows) == [MARKERS.pmid, SIZES.pmid, CARGO.pmid]
    assert {k: rows[MARKERS.pmid][k] for k in ARTICLE_FIELDS} == {
        "pmid": "38000101",
        "title": MARKERS.title,
        "abstract": MARKERS.abstract,
        "journal": "Cell Research",
        "year": "2024",
        "pub_date": "2024-03-05",
        "doi": "10.1038/s41422-024-00001-x",
        "publication_types": "Journal Article; Research Support, Non-U.S. Gov't",
    }
    assert rows[SIZES.pmid]["abstract"].splitlines()[1] == f"RESULTS: {SIZE_SENTENCE}"
    assert rows[CARGO.pmid]["pub_date"] == "2024-05-20"


def check_marker_findings(rows: list[dict[str, Any]], *, flags: tuple[Any, Any]) -> None:
    """The TSPAN4 claim restates the baseline; PLD1 is new; the exosome claims are context."""
    negated, speculative = flags
    tspan4 = finding(rows, pmid=MARKERS.pmid, category="marker", entity_id="TSPAN4")
    assert {k: tspan4[k] for k in DESIGN_FINDING_FIELDS} == {
        "pmid": "38000101",
        "ev_type": "EV:migrasome",
        "category": "marker",
        "entity": "TSPAN4",
        "entity_id": "TSPAN4",
        "status": "baseline",
        "negated": negated,
        "speculative": speculative,
        "evidence": MARKER_SENTENCE,
    }
    pld1 = finding(rows, pmid=MARKERS.pmid, entity_id="PLD1")
    assert (pld1["ev_type"], pld1["status"], pld1["evidence"]) == (
        "EV:migrasome",
        "new",
        MARKER_SENTENCE,
    )
    exosome = [r for r in rows if r["evidence"] == EXOSOME_SENTENCE]
    assert exosome, "the exosome sentence yields context findings"
    assert {(r["ev_type"], r["status"]) for r in exosome} == {("EV:exosome", "context")}
    assert not [r for r in rows if r["ev_type"] == "EV:migrasome" and r["entity_id"] == "CD63"]


@pytest.mark.usefixtures("ingested")
def test_export_findings_jsonl(run: Run) -> None:
    result = run("export", "findings", "--format", "jsonl")

    assert result.code == 0, result
    assert result.err == ""
    rows = result.jsonl()
    for row in rows:
        assert set(DESIGN_FINDING_FIELDS) | {"pub_date"} <= set(row)
        assert row["status"] in {"baseline", "new", "contradicts", "context"}
        assert isinstance(row["negated"], bool) and isinstance(row["speculative"], bool)
    check_marker_findings(rows, flags=(False, False))
    assert {r["pub_date"] for r in rows if r["pmid"] == MARKERS.pmid} == {"2024-03-05"}
    size = finding(rows, pmid=SIZES.pmid, category="size")
    assert (size["ev_type"], size["status"]) == ("EV:migrasome", "baseline")
    assert size["evidence"].endswith(SIZE_SENTENCE)  # after the "RESULTS: " section label
    assert (size["size_min_nm"], size["size_max_nm"], size["pub_date"]) == (
        500.0,
        3000.0,
        "2023-07",
    )
    cxcl12 = finding(rows, pmid=CARGO.pmid, entity_id="CXCL12", evidence=CARGO.abstract)
    assert (cxcl12["category"], cxcl12["status"]) == ("cargo", "baseline")


@pytest.mark.usefixtures("ingested")
def test_export_findings_csv_matches_jsonl(run: Run) -> None:
    result = run("export", "findings", "--format", "csv")

    assert result.code == 0, result
    header = result.out.splitlines()[0].split(",")
    assert header[: len(DESIGN_FINDING_FIELDS)] == list(DESIGN_FINDING_FIELDS)
    assert "pub_date" in header
    rows = result.csv()
    check_marker_findings(rows, flags=("False", "False"))
    as_json = run("export", "findings", "--format", "jsonl").jsonl()
    assert [(r["pmid"], r["entity_id"], r["status"], r["pub_date"]) for r in rows] == [
        (r["pmid"], r["entity_id"], r["status"], r["pub_date"]) for r in as_json
    ]


def test_export_of_an_empty_store(run: Run, db: Path) -> None:
    assert run("export", "articles").out == ""
    result = run("export", "findings", "--format", "csv")
    assert result.code == 0, result
    assert result.out.splitlines()[0].startswith(",".join(DESIGN_FINDING_FIELDS))
    assert len(result.out.splitlines()) == 1


# -- extract ----------------------------------------------------------------------------------


def test_extract_jsonl_writes_no_store_and_uses_no_network(
    run: Run, tmp_path: Path, db: Path, no_network: list[object]
) -> None:
    path = write(tmp_path / "efetch.xml.gz", MARKERS, SIZES)

    result = run("extract", path, "--format", "jsonl")

    assert result.code == 0, result
    assert result.err == ""
    rows = result.jsonl()
    assert all(set(DESIGN_FINDING_FIELDS) <= set(r) for r in rows)
    check_marker_findings(rows, flags=(False, False))
    assert finding(rows, pmid=SIZES.pmid, category="size")["status"] == "baseline"
    assert not db.exists()
    assert not (tmp_path / "data").exists()


def test_extract_csv_and_md(run: Run, tmp_path: Path, db: Path, no_network: list[object]) -> None:
    folder = tmp_path / "batches"
    write(folder / "1.xml", MARKERS)
    write(folder / "2.xml", CARGO)
    other_db = tmp_path / "elsewhere.sqlite"

    as_csv = run("extract", folder, "--format", "csv", "--db", other_db)
    as_md = run("extract", folder, "--format", "md")

    assert as_csv.code == 0, as_csv
    assert as_csv.out.splitlines()[0].split(",")[: len(DESIGN_FINDING_FIELDS)] == list(
        DESIGN_FINDING_FIELDS
    )
    rows = as_csv.csv()
    check_marker_findings(rows, flags=("False", "False"))
    assert {r["pmid"] for r in rows} == {MARKERS.pmid, CARGO.pmid}
    assert as_md.code == 0, as_md
    md = as_md.out
    assert md.startswith("# Findings in 1 file")
    new = md.split("## New findings", 1)[1].split("\n## ", 1)[0]
    restated = md.split("## Restating the baseline", 1)[1].split("\n## ", 1)[0]
    context = md.split("## Context (EV types not watched)", 1)[1]
    assert "**PLD1** — marker of EV:migrasome" in new and "TSPAN4" not in new.split("“")[0]
    assert "**TSPAN4** — marker of EV:migrasome" in restated
    assert "**CXCL12** — cargo of EV:migrasome" in restated
    assert "of EV:exosome" in context and "of EV:exosome" not in new
    assert f"[PMID {MARKERS.pmid}](https://pubmed.ncbi.nlm.nih.gov/{MARKERS.pmid}/)" in md
    assert not db.exists() and not other_db.exists()


def test_extract_reports_a_skipped_record_and_a_bad_file(
    run: Run, tmp_path: Path, db: Path, no_network: list[object]
) -> None:
    broken = article_xml(Record("", title="No PMID here.")).replace('<PMID Version="1"></PMID>', "")
    skipping = run("extract", write(tmp_path / "a.xml", broken, MARKERS))
    assert skipping.code == 0, skipping
    assert skipping.err_lines == [f"minemig: skipped PMID ? in {tmp_path / 'a.xml'}: no PMID"]
    assert {r["pmid"] for r in skipping.jsonl()} == {MARKERS.pmid}

    bad = not_xml(tmp_path / "b.xml")
    line = one_error_line(run("extract", bad))
    assert str(bad) in line and "not XML" in line
    assert not db.exists()


def test_extract_a_proposed_role_established_is_new_and_a_hedge_is_set_apart(
    run: Run, tmp_path: Path, no_network: list[object]
) -> None:
    established = "Migrasomes released by tumour cells promote angiogenesis in mice."
    hedged = "Migrasomes may promote immune escape."
    path = write(
        tmp_path / "e.xml",
        Record("38000104", title="Tumour migrasomes.", abstract=f"{established} {hedged}"),
    )

    rows = run("extract", path).jsonl()
    md = run("extract", path, "--format", "md").out

    angiogenesis = finding(rows, entity_id="GO:0001525")
    assert (angiogenesis["status"], angiogenesis["speculative"], angiogenesis["evidence"]) == (
        "new",
        False,
        established,
    )
    escape = finding(rows, entity_id="MINEMIG:immune_escape")
    assert (escape["status"], escape["speculative"], escape["evidence"]) == ("new", True, hedged)
    new = md.split("## New findings", 1)[1].split("\n## ", 1)[0]
    apart = md.split("## Negative and speculative results", 1)[1].split("\n## ", 1)[0]
    assert "**angiogenesis** — function of EV:migrasome" in new and "immune escape" not in new
    assert "**immune escape** — function of EV:migrasome (speculative)" in apart


# -- search -----------------------------------------------------------------------------------


def no_key(result: Result) -> None:
    assert API_KEY not in result.out and API_KEY not in result.err


def test_search_stores_articles_and_prints_findings_as_markdown(
    run: Run, pubmed: EutilsServer, db: Path
) -> None:
    pubmed.annotate(
        "migrasome",
        translation='"migrasome"[All Fields] OR "migrasomes"[All Fields]',
    )

    result = run("search", "migrasome")

    assert result.code == 0, result
    no_key(result)
    assert result.out.startswith("# PubMed search: migrasome\n")
    assert re.search(r"^\d+ findings from 3 articles; \d+ new\.$", result.out, re.M)
    assert "**PLD1** — marker of EV:migrasome" in result.out
    assert "**TSPAN4** — marker of EV:migrasome" in result.out
    assert UNRELATED.pmid not in result.out
    assert result.err_lines[-1].startswith("search: 3 records read: 3 new, 0 updated")
    assert stored(db, "SELECT pmid FROM articles ORDER BY pmid") == [
        (MARKERS.pmid,),
        (SIZES.pmid,),
        (CARGO.pmid,),
    ]
    (run_row,) = stored(
        db, "SELECT command, status, query, query_translation, warnings, pipeline FROM runs"
    )
    assert run_row == (
        "search",
        "ok",
        "migrasome",
        '"migrasome"[All Fields] OR "migrasomes"[All Fields]',
        "[]",
        "migrasome",
    )
    (esearch,) = pubmed.requests("esearch")
    assert esearch.params["usehistory"] == "y"
    assert esearch.params["api_key"] == API_KEY  # sent, never shown
    assert (esearch.params["tool"], esearch.params["email"]) == ("minemig", "tests@example.org")
    for file in db.parent.glob(f"{db.name}*"):  # the database and any WAL left beside it
        assert API_KEY.encode() not in file.read_bytes()


def test_search_again_fetches_again_but_stores_nothing_new(
    run: Run, pubmed: EutilsServer, db: Path
) -> None:
    first = run("search", "migrasome", "--format", "jsonl")
    counts = stored(db, "SELECT COUNT(*) FROM articles UNION ALL SELECT COUNT(*) FROM findings")

    second = run("search", "migrasome", "--format", "jsonl")

    assert first.code == second.code == 0, (first, second)
    rows = first.jsonl()
    check_marker_findings(rows, flags=(False, False))
    assert {r["pmid"] for r in rows} == {MARKERS.pmid, SIZES.pmid, CARGO.pmid}
    assert second.out == first.out
    assert second.summary() == {
        "command": "search",
        "read": 3,
        "new": 0,
        "updated": 0,
        "unchanged": 3,
        "deleted": 0,
        "skipped": 0,
        "extracted": 0,
        "findings": 0,
    }
    assert len(pubmed.requests("efetch")) == 2
    assert (
        stored(db, "SELECT COUNT(*) FROM articles UNION ALL SELECT COUNT(*) FROM findings")
        == counts
    )
    assert stored(db, "SELECT status FROM runs ORDER BY id") == [("ok",), ("ok",)]


def test_search_max_fetches_the_newest_records(run: Run, pubmed: EutilsServer, db: Path) -> None:
    result = run("search", "migrasome", "--max", "2", "--format", "jsonl")

    assert result.code == 0, result
    assert result.summary()["new"] == 2
    assert stored(db, "SELECT pmid FROM articles ORDER BY pmid") == [
        (MARKERS.pmid,),
        (CARGO.pmid,),
    ]
    assert {r["pmid"] for r in result.jsonl()} == {MARKERS.pmid, CARGO.pmid}
    assert [r.params["retmax"] for r in pubmed.requests("efetch")] == ["2"]


def test_search_date_window(run: Run, pubmed: EutilsServer, db: Path) -> None:
    result = run(
        "search", "migrasome", "--mindate", "2024/03", "--maxdate", "2024-04-30", "--format", "csv"
    )

    assert result.code == 0, result
    (esearch,) = pubmed.requests("esearch")
    assert (esearch.params["datetype"], esearch.params["mindate"], esearch.params["maxdate"]) == (
        "edat",
        "2024/03/01",
        "2024/04/30",
    )
    assert stored(db, "SELECT pmid FROM articles") == [(MARKERS.pmid,)]
    assert {r["pmid"] for r in result.csv()} == {MARKERS.pmid}
    ((mindate, maxdate, translation),) = stored(
        db, "SELECT mindate, maxdate, query_translation FROM runs"
    )
    assert (mindate, maxdate) == ("2024/03", "2024/04/30")
    assert translation.endswith("2024/03/01:2024/04/30[Date - Entry]")


@pytest.mark.parametrize(
    "args",
    [
        ("--mindate", "2024/13/40"),
        ("--maxdate", "2024-02-30"),
        ("--mindate", "last week"),
        ("--mindate", "1700"),
    ],
)
def test_search_refuses_a_bad_date(
    run: Run, pubmed: EutilsServer, db: Path, args: tuple[str, str]
) -> None:
    line = one_error_line(run("search", "migrasome", *args), code=2)
    assert args[0] in line and repr(args[1]) in line
    assert pubmed.requests() == []
    assert not db.exists()


def test_search_refuses_a_window_that_ends_before_it_starts(run: Run, pubmed: EutilsServer) -> None:
    line = one_error_line(
        run("search", "migrasome", "--mindate", "2024", "--maxdate", "2023"), code=2
    )
    assert "2024/01/01" in line and "2023/12/31" in line
    assert pubmed.requests() == []


def test_a_refused_window_leaves_no_run_behind(run: Run, pubmed: EutilsServer, db: Path) -> None:
    run("search", "migrasome", "--mindate", "2024", "--maxdate", "2023")
    assert not db.exists() or stored(db, "SELECT status FROM runs WHERE status = 'running'") == []


@pytest.mark.parametrize("query", ["", "   "])
def test_search_refuses_an_empty_query(
    run: Run, pubmed: EutilsServer, db: Path, query: str
) -> None:
    line = one_error_line(run("search", query), code=2)
    assert "query is empty" in line
    assert pubmed.requests() == []
    assert not db.exists()


@pytest.mark.parametrize("value", ["0", "-3", "many"])
def test_search_refuses_a_bad_max(run: Run, pubmed: EutilsServer, value: str) -> None:
    line = one_error_line(run("search", "migrasome", "--max", value), code=2)
    assert "'--max'" in line
    assert pubmed.requests() == []


@pytest.mark.parametrize(
    ("endpoint", "message"),
    [
        ("esearch", "API key invalid"),
        ("efetch", "Some IDs have invalid value"),
    ],
)
def test_an_ncbi_error_in_a_200_fails_the_search(
    run: Run, pubmed: EutilsServer, db: Path, endpoint: str, message: str
) -> None:
    pubmed.inject(endpoint, Fault.error_in_200(message))

    result = run("search", "migrasome")

    line = one_error_line(result)
    assert f"NCBI: {message}" in line and f"{endpoint} (" in line
    no_key(result)
    assert result.out == ""
    assert stored(db, "SELECT COUNT(*) FROM articles") == [(0,)]
    ((status, error),) = stored(db, "SELECT status, error FROM runs")
    assert status == "failed" and message in error and API_KEY not in error


def test_persistent_server_errors_fail_the_search_without_the_key(
    run: Run, pubmed: EutilsServer, db: Path, backoff: list[float]
) -> None:
    pubmed.inject("efetch", *[Fault.status(500)] * 6)

    result = run("search", "migrasome")

    assert result.code == 1, result
    no_key(result)
    errors = [line for line in result.err_lines if line.startswith("Error: ")]
    assert errors == [result.err_lines[-1]]
    assert "HTTP 500" in errors[0] and "gave up after 6 tries" in errors[0]
    # Retries are routine and stay silent (cron mails any output); five were slept.
    assert len(result.err_lines) == 1 and len(backoff) == 5
    assert [r.fault for r in pubmed.requests("efetch")] == ["status"] * 6
    ((status, translation),) = stored(db, "SELECT status, query_translation FROM runs")
    assert status == "failed" and translation == '"migrasome"[All Fields]'
    assert stored(db, "SELECT COUNT(*) FROM articles") == [(0,)]


def test_a_transient_failure_is_retried_and_the_search_succeeds(
    run: Run, pubmed: EutilsServer, db: Path, backoff: list[float]
) -> None:
    pubmed.inject("efetch", Fault.status(503, retry_after=1), Fault.truncated())

    result = run("search", "migrasome", "--format", "jsonl")

    assert result.code == 0, result
    no_key(result)
    assert backoff[0] == 1.0  # Retry-After honoured
    assert result.summary()["new"] == 3


def test_an_error_list_is_kept_with_the_run(run: Run, pubmed: EutilsServer, db: Path) -> None:
    query = "migrasome abcxyzzy"
    pubmed.annotate(
        query,
        errors=[("PhraseNotFound", "abcxyzzy")],
        translation='"migrasome"[All Fields]',
    )

    result = run("search", query, "--format", "jsonl")

    assert result.code == 0, result
    assert result.out == ""  # no record has both words
    assert any("PhraseNotFound: abcxyzzy" in line for line in result.err_lines)
    ((translation, warnings),) = stored(db, "SELECT query_translation, warnings FROM runs")
    assert translation == '"migrasome"[All Fields]'
    assert "PhraseNotFound: abcxyzzy" in json.loads(warnings)


def test_an_unreachable_eutils_server_fails_in_one_line(
    run: Run, monkeypatch: pytest.MonkeyPatch, backoff: list[float]
) -> None:
    monkeypatch.setenv("NCBI_API_KEY", API_KEY)  # MINEMIG_EUTILS_URL points at a closed port
    result = run("search", "migrasome")
    line = last_error_line(result)
    assert "esearch" in line and "gave up" in line
    no_key(result)


# -- baseline ---------------------------------------------------------------------------------


def test_baseline_markdown(run: Run, db: Path) -> None:
    result = run("baseline")

    assert result.code == 0, result
    lines = result.out.splitlines()
    assert lines[0] == "# Baseline claims: migrasome"
    assert "| EV type | category | entity | id | size (nm) | kind | source |" in lines
    assert (
        "| EV:migrasome | marker | TSPAN4 | TSPAN4 |  | established | review Table 1 MARKERs |"
        in lines
    )
    size = [line for line in lines if line.startswith("| EV:migrasome | size |")]
    assert len(size) == 1 and "| 0.5–3 µm | SIZE | 500–3000 | established |" in size[0]
    hypotheses = [line for line in lines if "| hypothesis |" in line]
    assert any("| angiogenesis | GO:0001525 |" in line for line in hypotheses)
    assert any("| immune escape | MINEMIG:immune_escape |" in line for line in hypotheses)
    assert all(line.startswith("| EV:migrasome |") for line in hypotheses)
    assert not db.exists()


def test_baseline_csv(run: Run) -> None:
    result = run("baseline", "--format", "csv")

    assert result.code == 0, result
    rows = result.csv()
    assert list(rows[0]) == [
        "ev_type",
        "category",
        "entity_id",
        "entity",
        "min_nm",
        "max_nm",
        "kind",
        "source",
    ]
    markers = {
        r["entity_id"]
        for r in rows
        if (r["ev_type"], r["category"], r["kind"]) == ("EV:migrasome", "marker", "established")
    }
    assert {"TSPAN4", "ITGA5", "CPQ", "NDST1", "PIGK", "EOGT"} <= markers
    (size,) = [r for r in rows if (r["ev_type"], r["category"]) == ("EV:migrasome", "size")]
    assert (float(size["min_nm"]), float(size["max_nm"]), size["kind"]) == (
        500.0,
        3000.0,
        "established",
    )
    hypotheses = {r["entity_id"] for r in rows if r["kind"] == "hypothesis"}
    assert {"GO:0001525", "MINEMIG:immune_escape"} <= hypotheses
    assert not hypotheses & markers


# -- pipelines --------------------------------------------------------------------------------


@pytest.mark.parametrize("command", [("baseline",), ("ingest", "FILE"), ("extract", "FILE")])
def test_an_unknown_pipeline_is_named(
    run: Run, tmp_path: Path, db: Path, command: tuple[str, ...]
) -> None:
    path = write(tmp_path / "efetch.xml", MARKERS)
    args = [path if part == "FILE" else part for part in command]

    line = one_error_line(run(*args, "--pipeline", "nosuch"))

    assert "'nosuch'" in line and "migrasome" in line  # the known ones are listed
    assert not db.exists()


def pipeline_copy(tmp_path: Path, edit: Callable[[str], str]) -> Path:
    text = (REPO / "pipelines" / "migrasome.toml").read_text(encoding="utf-8")
    text = text.replace('directory = "../gazetteers"', f"directory = {str(REPO / 'gazetteers')!r}")
    text = text.replace(
        'claims = "baselines/migrasome.tsv"',
        f"claims = {str(REPO / 'pipelines' / 'baselines' / 'migrasome.tsv')!r}",
    )
    path = tmp_path / "topics" / "custom.toml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(edit(text), encoding="utf-8")
    return path


def test_a_pipeline_with_an_unknown_key_is_refused(run: Run, tmp_path: Path, db: Path) -> None:
    path = pipeline_copy(tmp_path, lambda t: t.replace("[nlp]\n", '[nlp]\nmodle = "auto"\n'))

    line = one_error_line(run("ingest", write(tmp_path / "e.xml", MARKERS), "--pipeline", path))

    assert str(path) in line and "'modle'" in line and "[nlp]" in line
    assert not db.exists()


def test_a_pipeline_that_is_not_toml_is_refused(run: Run, tmp_path: Path) -> None:
    path = pipeline_copy(tmp_path, lambda t: t + "\n[digest\n")
    line = one_error_line(run("baseline", "--pipeline", path))
    assert str(path) in line and "not valid TOML" in line


def test_a_second_topic_is_a_file_not_code(
    run: Run, tmp_path: Path, no_network: list[object]
) -> None:
    """A pipeline watching exosomes turns the exosome claims from context into findings."""
    path = pipeline_copy(
        tmp_path,
        lambda t: re.sub(
            r"watched_ev_types = \[.*?\]", 'watched_ev_types = ["EV:exosome"]', t, flags=re.S
        ).replace('name = "migrasome"', 'name = "exosome"'),
    )

    rows = run("extract", write(tmp_path / "e.xml", MARKERS), "--pipeline", path).jsonl()

    exosome = [r for r in rows if r["evidence"] == EXOSOME_SENTENCE]
    assert exosome and {r["status"] for r in exosome} == {"new"}
    assert {r["status"] for r in rows if r["ev_type"] == "EV:migrasome"} == {"context"}


# -- the database -----------------------------------------------------------------------------


@pytest.mark.parametrize("command", [("export", "articles"), ("ingest", "FILE")])
def test_a_corrupt_database_is_refused_and_left_alone(
    run: Run, tmp_path: Path, command: tuple[str, ...]
) -> None:
    corrupt = tmp_path / "corrupt.sqlite"
    garbage = os.urandom(8192)
    corrupt.write_bytes(garbage)
    args = [write(tmp_path / "e.xml", MARKERS) if part == "FILE" else part for part in command]

    line = one_error_line(run(*args, "--db", corrupt))

    assert str(corrupt) in line and "not a database" in line
    assert corrupt.read_bytes() == garbage
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("corrupt")) == [
        "corrupt.sqlite"
    ]


def test_db_option_beats_the_environment(run: Run, tmp_path: Path, db: Path) -> None:
    chosen = tmp_path / "nested" / "chosen.sqlite"
    result = run("ingest", write(tmp_path / "e.xml", MARKERS), "--db", chosen)
    assert result.code == 0, result
    assert chosen.exists() and not db.exists()
    assert [a["pmid"] for a in run("export", "articles", "--db", chosen).jsonl()] == [MARKERS.pmid]


def test_export_into_a_closed_pipe_is_not_an_error(run: Run, tmp_path: Path) -> None:
    """`minemig export articles | head -1`: more output than a pipe holds, reader gone."""
    records = [
        Record(str(39000000 + i), title=f"Migrasome paper {i}.", abstract=MARKER_SENTENCE * 20)
        for i in range(300)
    ]
    assert run("ingest", write(tmp_path / "many.xml", *records), "--no-findings").code == 0
    process = subprocess.Popen(
        [sys.executable, "-m", "minemig", "export", "articles"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert process.stdout is not None and process.stderr is not None
    first = process.stdout.readline()
    process.stdout.close()
    error = process.stderr.read()
    code = process.wait(timeout=60)
    assert json.loads(first)["pmid"] == "39000000"
    assert (code, error) == (0, b"")


# -- errors and --debug -----------------------------------------------------------------------


def test_debug_shows_the_traceback(run: Run, tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.sqlite"
    corrupt.write_bytes(os.urandom(4096))

    quiet = run("export", "articles", "--db", corrupt)
    loud = run("export", "articles", "--db", corrupt, "--debug")

    line = one_error_line(quiet)
    assert loud.code == 1
    assert "Traceback (most recent call last)" in loud.err
    assert "StoreError" in loud.err
    assert loud.err_lines[-1] == line


def test_an_unknown_option_is_a_usage_error(run: Run) -> None:
    line = one_error_line(run("export", "articles", "--colour", "red"), code=2)
    assert "--colour" in line


# -- help -------------------------------------------------------------------------------------

COMMANDS = sorted(cli.cli.commands)  # every command the CLI defines


def help_example(command: list[str]) -> str:
    group: Any = cli.cli
    node = group.get_command(None, command[0]) if command else group
    (example,) = [line.strip() for line in node.help.splitlines() if "Example:" in line]
    return example


@pytest.mark.parametrize(
    "command",
    [[], *([c] for c in COMMANDS)],
    ids=lambda c: " ".join(c) or "minemig",
)
def test_help_exits_0_and_gives_an_example(run: Run, command: list[str]) -> None:
    result = run(*command, "--help")

    assert result.code == 0, result
    assert result.err == ""
    assert result.out.startswith(f"Usage: minemig {' '.join(command)}".rstrip())
    assert any(line.strip().startswith("Example: minemig ") for line in result.out.splitlines())
    if not command:
        for name in COMMANDS:
            assert re.search(rf"^  {name}\s", result.out, re.M), name


@pytest.mark.parametrize(
    "command",
    [
        [],
        *([c] for c in COMMANDS if c != "search"),
        ["search"],
    ],
    ids=lambda c: " ".join(c) or "minemig",
)
def test_the_help_example_is_one_whole_line(run: Run, command: list[str]) -> None:
    example = help_example(command)
    lines = [line.strip() for line in run(*command, "--help").out.splitlines()]
    assert example in lines


# -- python -m minemig ------------------------------------------------------------------------


def test_python_dash_m_minemig(tmp_path: Path, db: Path) -> None:
    path = write(tmp_path / "pubmed25n0003.xml.gz", MARKERS, SIZES)
    env = {**os.environ, "PYTHONPATH": str(REPO)}

    def minemig(*args: str | Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "minemig", *map(str, args)],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=120,
            check=False,
        )

    ingest = minemig("ingest", path)
    assert (ingest.returncode, ingest.stderr) == (0, ""), ingest
    assert ingest.stdout.startswith("ingest: 2 records read: 2 new,")
    export = minemig("export", "articles", "--format", "csv")
    assert export.returncode == 0, export
    assert [r["pmid"] for r in csv.DictReader(io.StringIO(export.stdout))] == [
        MARKERS.pmid,
        SIZES.pmid,
    ]
    missing = minemig("extract", tmp_path / "nowhere.xml")
    assert missing.returncode == 2
    assert missing.stderr.count("\n") == 1 and missing.stderr.startswith("Error: ")
    assert missing.stdout == ""
    assert db.exists() and not (tmp_path / "data").exists()

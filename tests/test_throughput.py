"""Reading in worker processes, storing in pipelined batches, and incremental reruns.

Behaviour only, no timing: workers find exactly what one process finds (compared within
one test run, since the rules change), batches stay in order while the next ones are read,
and a rerun of unchanged input reads nothing: no NLP, and for a file already ingested whole,
no parsing either.
"""

from __future__ import annotations

import gc
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from pubmed_xml import Record, article_set, write_article_set

from minemig import cli, orchestrate
from minemig.errors import ParseError
from minemig.models import Article
from minemig.nlp import build_reader
from minemig.orchestrate import extract, ingest
from minemig.parse import iter_records
from minemig.store import Store, article_content_hash
from minemig.topic import load_topic

SENTENCES = (
    "TSPAN4-positive migrasomes were enriched in PLD1 in L929 cells.",
    "Neutrophil-derived migrasomes promote angiogenesis in zebrafish embryos.",
    "Migrasomes carry CXCL12 and were detected by electron microscopy.",
    "Exosomes carry CD81 and CD63, whereas migrasomes were not enriched in CD63.",
    "Damaged mitochondria were released in migrasomes, a process termed mitocytosis.",
    "Loss of PIP5K1A abolished migrasome formation in NRK cells.",
    "Migrasomes measured 0.5–3 µm in diameter and may contribute to tumour metastasis.",
    "Knockdown of STAT3 reduced apoptosis in hepatocytes.",
)


def corpus(n: int, first: int = 39_000_000) -> list[Record]:
    """``n`` records, each a different mix of the sentences above."""
    return [
        Record(
            str(first + i),
            title=f"Study {i} of migrasomes.",
            abstract=" ".join(SENTENCES[(i + k) % len(SENTENCES)] for k in range(1 + i % 4)),
        )
        for i in range(n)
    ]


@pytest.fixture(scope="module")
def parallel(reader: Any) -> Iterator[Any]:
    """The session's reader with two worker processes, started once for this module."""
    with reader.with_workers(2) as two:
        yield two


@pytest.fixture
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    """Batches of three records, so a small file makes many batches in flight at once."""
    monkeypatch.setattr(orchestrate, "RECORD_BATCH", 3)


def content(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    """What a store holds, without row ids and run ids (which differ from run to run)."""
    queries = {
        "articles": "SELECT pmid, version, title, abstract, content_hash, deleted FROM articles",
        "findings": (
            "SELECT pmid, pipeline_version, ev_type, category, entity, entity_id, predicate,"
            " negated, speculative, evidence, sentence_index, start_char, end_char FROM findings"
        ),
        "extractions": "SELECT pmid, pipeline_version, content_hash FROM extractions",
    }
    with sqlite3.connect(db) as connection:
        return {name: sorted(connection.execute(sql)) for name, sql in queries.items()}


def ingest_file(db: Path, path: Path, reader: Any) -> orchestrate.Tally:
    with Store(db) as store:
        return ingest(store, [path], reader, "migrasome")


# -- workers --------------------------------------------------------------------------------


def test_workers_find_exactly_what_one_process_finds(
    reader: Any, parallel: Any, tmp_path: Path
) -> None:
    path = write_article_set(tmp_path / "set.xml", corpus(70))

    def findings(with_reader: Any) -> list[Any]:
        return list(extract([path], with_reader, lambda message: None))

    one, two = findings(reader), findings(parallel)
    assert len(one) > 70
    assert two == one


def test_read_batches_keeps_order_and_empty_batches(parallel: Any) -> None:
    articles = [a for a in iter_records(article_set(corpus(20))) if isinstance(a, Article)]
    batches = [articles[:7], [], articles[7:8], [], [], articles[8:]]
    results = list(parallel.read_batches(iter(batches)))
    assert [[a.pmid for a, _ in batch] for batch in results] == [
        [a.pmid for a in batch] for batch in batches
    ]
    assert all(f.pmid == a.pmid for batch in results for a, fs in batch for f in fs)


def test_the_pipeline_is_set_aside_from_the_collector_once(reader: Any) -> None:
    reader.nlp  # noqa: B018  built (the session's reader may have been built already)
    assert gc.get_freeze_count() > 0  # the pipeline is frozen out of the collector's walks
    frozen = gc.get_freeze_count()
    for first in (39_000_000, 39_100_000, 39_200_000):
        articles = [
            a for a in iter_records(article_set(corpus(30, first))) if isinstance(a, Article)
        ]
        assert len(list(reader.read(articles))) == 30
    # reading freezes nothing more: what it leaves behind is collected as usual
    assert gc.get_freeze_count() <= frozen


def test_ingest_with_workers_stores_what_one_process_stores(
    reader: Any, parallel: Any, tmp_path: Path, small_batches: None
) -> None:
    records = corpus(40)
    revised = [replace(r, version=2, title=r.title + " Revised.") for r in records[::7]]
    path = tmp_path / "update.xml.gz"
    write_article_set(path, [*records, *revised], deleted_pmids=[records[3].pmid])
    one, two = tmp_path / "one.sqlite", tmp_path / "two.sqlite"
    tally_one = ingest_file(one, path, reader)
    tally_two = ingest_file(two, path, parallel)
    assert tally_two.as_dict() == tally_one.as_dict()
    assert content(two) == content(one)
    assert content(one)["findings"]


def test_the_command_line_takes_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MINEMIG_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("MINEMIG_SCISPACY_MODEL", raising=False)
    path = write_article_set(tmp_path / "set.xml", corpus(12))
    outputs = []
    for workers in ("1", "2"):
        with pytest.raises(SystemExit) as exit_status:
            cli.main(["extract", str(path), "--workers", workers, "--format", "jsonl"])
        assert exit_status.value.code == 0
        outputs.append([json.loads(line) for line in capsys.readouterr().out.splitlines()])
    assert outputs[0] and outputs[1] == outputs[0]
    with pytest.raises(SystemExit) as exit_status:
        cli.main(["ingest", str(path), "--workers", "0", "--db", str(tmp_path / "s.sqlite")])
    assert exit_status.value.code == 2


def test_a_record_revised_and_reverted_while_batches_are_read_ahead(
    reader: Any, parallel: Any, tmp_path: Path, small_batches: None
) -> None:
    """The store already read version 1; the file says 2, then 1 again, in later batches
    that are planned before the first is written: the findings kept are version 1's."""
    first = Record("39100001", title="Migrasomes.", abstract=SENTENCES[0])
    second = replace(first, version=2, abstract=SENTENCES[2])
    filler = corpus(5, first=39_100_100)
    write_article_set(tmp_path / "v1.xml", [first])
    write_article_set(tmp_path / "flip.xml", [second, *filler, first])
    for name, with_reader in (("one", reader), ("two", parallel)):
        db = tmp_path / f"{name}.sqlite"
        ingest_file(db, tmp_path / "v1.xml", with_reader)
        ingest_file(db, tmp_path / "flip.xml", with_reader)
        with sqlite3.connect(db) as connection:
            (stored,) = connection.execute(
                "SELECT content_hash FROM articles WHERE pmid = ?", (first.pmid,)
            ).fetchone()
            (extracted,) = connection.execute(
                "SELECT content_hash FROM extractions WHERE pmid = ?", (first.pmid,)
            ).fetchone()
            evidence = {
                row[0]
                for row in connection.execute(
                    "SELECT evidence FROM findings WHERE pmid = ?", (first.pmid,)
                )
            }
        assert stored == extracted, name
        assert SENTENCES[0] in evidence and SENTENCES[2] not in evidence, name


def test_a_file_broken_part_way_keeps_the_records_before_the_break(
    parallel: Any, tmp_path: Path, small_batches: None
) -> None:
    data = article_set(corpus(10))
    path = tmp_path / "broken.xml"
    path.write_bytes(data[: data.index(b"<PubmedArticle>", len(data) * 3 // 4)] + b"<oops")
    db = tmp_path / "store.sqlite"
    for _attempt in range(2):  # a broken file is never taken for ingested
        with pytest.raises(ParseError):
            ingest_file(db, path, parallel)
        with sqlite3.connect(db) as connection:
            pmids = [row[0] for row in connection.execute("SELECT pmid FROM extractions")]
        assert 5 <= len(pmids) < 10


# -- incremental reruns ---------------------------------------------------------------------


def test_an_unchanged_file_is_neither_parsed_nor_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    topic = load_topic("migrasome")
    path = write_article_set(tmp_path / "set.xml.gz", corpus(12), deleted_pmids=["39999999"])
    db = tmp_path / "store.sqlite"
    first = ingest_file(db, path, build_reader(topic.gazetteer_files, topic.abbreviation_files))
    before = content(db)

    def no_parsing(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("an unchanged file was parsed again")

    monkeypatch.setattr(orchestrate, "iter_records", no_parsing)
    fresh = build_reader(topic.gazetteer_files, topic.abbreviation_files)
    again = ingest_file(db, path, fresh)
    assert again.extracted == 0 and again.read == first.read == 13
    assert again.written.unchanged == 12 and again.written.new == 0
    assert fresh._nlp is None and fresh._pool is None  # nothing to read: nothing built
    assert content(db) == before
    assert ingest_file(db, path, None).read == 13  # without findings, also nothing to do


def test_a_file_is_read_again_when_its_records_changed_since(reader: Any, tmp_path: Path) -> None:
    records = corpus(6)
    a = write_article_set(tmp_path / "a.xml", records, deleted_pmids=["39000900"])
    revision = replace(records[2], version=2, abstract=SENTENCES[5])
    b = write_article_set(tmp_path / "b.xml", [revision, Record("39000900", abstract="Back.")])
    db = tmp_path / "store.sqlite"
    ingest_file(db, a, reader)
    after_a = content(db)
    ingest_file(db, b, reader)
    assert content(db) != after_a
    again = ingest_file(db, a, reader)  # revises records[2] back and deletes 39000900 again
    assert again.written.updated == 1 and again.written.deleted == 1
    assert again.extracted == 1
    assert content(db)["articles"] == [
        *after_a["articles"],
        ("39000900", 1, "Untitled record.", "Back.", _hash_of(b, "39000900"), 1),
    ]


def test_a_new_pipeline_version_reads_a_stored_file_again(reader: Any, tmp_path: Path) -> None:
    topic = load_topic("migrasome")
    path = write_article_set(tmp_path / "set.xml", corpus(5))
    db = tmp_path / "store.sqlite"
    ingest_file(db, path, reader)
    other = build_reader(topic.gazetteer_files, (), model="none")
    assert other.version != reader.version
    assert ingest_file(db, path, other).extracted == 5
    assert ingest_file(db, path, other).extracted == 0
    assert ingest_file(db, path, reader).extracted == 0  # the first version's reading stays


def test_pmids_needing_extraction_takes_long_lists(tmp_path: Path) -> None:
    records = corpus(1200)
    path = write_article_set(tmp_path / "set.xml", records)
    articles = [a for a in iter_records(path) if isinstance(a, Article)]
    with Store(tmp_path / "store.sqlite") as store:
        run = store.start_run("ingest")
        findings: dict[str, list[Any]] = {a.pmid: [] for a in articles[::2]}
        store.write_batch(run, articles, findings=findings, pipeline_version="v")
        pairs = [(a.pmid, article_content_hash(a)) for a in articles]
        needed = store.pmids_needing_extraction(pairs, "v")
        assert needed == {a.pmid for a in articles[1::2]}
        changed = [(pmid, "other hash") for pmid, _ in pairs]
        assert store.pmids_needing_extraction(changed, "v") == {a.pmid for a in articles}


def _hash_of(path: Path, pmid: str) -> str:
    return next(article_content_hash(a) for a in iter_records(path) if a.pmid == pmid)


def changed_gazetteer(folder: Path) -> Any:
    """A reader whose gazetteer has one concept more (STAT3) and one synonym more (of
    mitocytosis) than the topic's."""
    topic = load_topic("migrasome")
    folder.mkdir()
    for path in topic.gazetteer_files:
        text = path.read_text(encoding="utf-8")
        if path.name == "genes.tsv":
            text = text.rstrip("\n") + "\nSTAT3\tSTAT3\tgene\t\ttest: a new concept\n"
        if path.name == "functions.tsv":
            text = "\n".join(
                "\t".join([*row.split("\t")[:3], "mitocytotic release", *row.split("\t")[4:]])
                if row.startswith("MINEMIG:mitocytosis\t")
                else row
                for row in text.split("\n")
            )
        (folder / path.name).write_text(text, encoding="utf-8")
    files = [folder / path.name for path in topic.gazetteer_files]
    return build_reader(files, topic.abbreviation_files, model="none")


def test_a_gazetteer_change_reads_only_the_articles_a_changed_term_occurs_in(
    reader: Any, tmp_path: Path
) -> None:
    new_reader = changed_gazetteer(tmp_path / "gazetteers")
    assert new_reader.version != reader.version and new_reader.can_reuse(reader.version)

    records = corpus(24)
    touched = {r.pmid for r in records if "STAT3" in r.text or "mitocytosis" in r.text}
    assert 0 < len(touched) < len(records)
    path = write_article_set(tmp_path / "set.xml", records)
    db, fresh = tmp_path / "store.sqlite", tmp_path / "fresh.sqlite"
    ingest_file(db, path, reader)
    assert ingest_file(db, path, new_reader).extracted == len(touched)
    assert ingest_file(fresh, path, new_reader).extracted == len(records)

    def readings(store: Path) -> list[tuple[Any, ...]]:
        return [r for r in content(store)["findings"] if r[1] == new_reader.version]

    assert readings(db) == readings(fresh)
    assert readings(db)


def test_a_digest_after_a_gazetteer_change_reads_only_what_it_must(
    reader: Any, tmp_path: Path
) -> None:
    new_reader = changed_gazetteer(tmp_path / "gazetteers")
    records = corpus(16)
    touched = [r for r in records if "STAT3" in r.text or "mitocytosis" in r.text]
    path = write_article_set(tmp_path / "set.xml", records)
    db = tmp_path / "store.sqlite"
    ingest_file(db, path, reader)
    with Store(db) as store:
        rows = list(store.iter_articles())
        run = store.start_run("digest")
        assert orchestrate.read_missing(store, run, rows, new_reader) == len(touched)
        assert orchestrate.read_missing(store, run, rows, new_reader) == 0
    fresh = tmp_path / "fresh.sqlite"
    ingest_file(fresh, path, new_reader)

    def readings(store: Path) -> list[tuple[Any, ...]]:
        return [r for r in content(store)["findings"] if r[1] == new_reader.version]

    assert readings(db) == readings(fresh)

"""The SQLite store: migrations, idempotent upserts, revisions, deletions, failures."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minemig.errors import StoreError
from minemig.models import AbstractSection, Article, Finding, PubDate
from minemig.store import MIGRATIONS, Store, article_from_row


def make_article(pmid: str = "38000001", **changes: object) -> Article:
    article = Article(
        pmid=pmid,
        title="TSPAN4-positive migrasomes carry PTEN mRNA",
        abstract_sections=(
            AbstractSection("Migrasomes form on retraction fibres.", "BACKGROUND", "BACKGROUND"),
            AbstractSection("Migrasomes were enriched in TSPAN4 (0.5–3 µm).", "RESULTS", "RESULTS"),
        ),
        journal="Cell Research",
        pub_date=PubDate(2024, 3, 5),
        doi="10.1038/example",
        publication_types=("Journal Article",),
        language="eng",
    )
    return replace(article, **changes)  # type: ignore[arg-type]


def make_finding(pmid: str = "38000001", entity_id: str = "TSPAN4") -> Finding:
    return Finding(
        pmid=pmid,
        ev_type="EV:migrasome",
        category="marker",
        entity=entity_id,
        entity_id=entity_id,
        predicate="marked_by:enriched",
        negated=False,
        speculative=False,
        evidence="Migrasomes were enriched in TSPAN4.",
        sentence_index=2,
        start_char=40,
        end_char=46,
    )


def test_migrations_apply_once_and_are_recorded(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite"
    with Store(path) as store:
        assert store.applied_migrations() == [name for name, _ in MIGRATIONS]
    with Store(path) as store:  # reopening applies nothing twice
        assert store.applied_migrations() == [name for name, _ in MIGRATIONS]


def test_upsert_is_idempotent_and_detects_revisions() -> None:
    with Store(":memory:") as store:
        run = store.start_run("ingest")
        first = store.write_batch(
            run, [make_article()], findings={"38000001": [make_finding()]}, pipeline_version="v1"
        )
        again = store.write_batch(
            run, [make_article()], findings={"38000001": [make_finding()]}, pipeline_version="v1"
        )
        revised = store.write_batch(run, [make_article(title="A revised title", version=2)])
        assert (first.new, first.updated, first.findings) == (1, 0, 1)
        assert (again.new, again.updated, again.unchanged) == (0, 0, 1)
        assert (revised.new, revised.updated) == (0, 1)
        stored = store.get_article("38000001")
        assert stored is not None
        assert stored["title"] == "A revised title" and stored["version"] == 2
        assert stored["revised"] == 1
        assert len(list(store.iter_findings())) == 1  # replaced, never duplicated


def test_article_round_trips_through_the_store() -> None:
    article = make_article()
    with Store(":memory:") as store:
        store.write_batch(store.start_run("ingest"), [article])
        row = store.get_article(article.pmid)
    assert row is not None
    assert article_from_row(row) == replace(article, pub_date=PubDate(2024, 3, 5, ""))
    assert row["abstract"].startswith("BACKGROUND: Migrasomes form on retraction fibres.")


def test_deletion_marks_the_record_and_hides_it() -> None:
    with Store(":memory:") as store:
        run = store.start_run("ingest")
        store.write_batch(run, [make_article("1"), make_article("2")])
        counts = store.write_batch(run, deleted_pmids=["2", "999"])
        assert counts.deleted == 1
        assert [a["pmid"] for a in store.iter_articles()] == ["1"]
        assert store.article_count(include_deleted=True) == 2


def test_unchanged_records_need_no_second_reading() -> None:
    from minemig.store import article_content_hash

    article = make_article()
    with Store(":memory:") as store:
        run = store.start_run("ingest")
        pairs = [(article.pmid, article_content_hash(article))]
        assert store.pmids_needing_extraction(pairs, "v1") == {article.pmid}
        store.write_batch(run, [article], findings={article.pmid: []}, pipeline_version="v1")
        assert store.pmids_needing_extraction(pairs, "v1") == set()
        assert store.pmids_needing_extraction(pairs, "v2") == {article.pmid}


def test_a_failed_batch_leaves_nothing_behind() -> None:
    with Store(":memory:") as store:
        run = store.start_run("ingest")
        broken = replace(make_finding("38000002"), ev_type=None)  # type: ignore[arg-type]
        with pytest.raises(StoreError):
            store.write_batch(
                run,
                [make_article("38000002")],
                findings={"38000002": [broken]},
                pipeline_version="v1",
            )
        assert store.article_count() == 0


def test_runs_record_status_counts_and_versions() -> None:
    with Store(":memory:") as store:
        run = store.start_run("search", query="migrasome", versions={"spacy": "3.8"})
        store.record_search(run, "migrasome[All Fields]", ["QuotedPhraseNotFound: x"])
        store.finish_run(run, "ok", counts={"read": 3})
        (row,) = store.runs()
        assert row["status"] == "ok" and row["counts"] == {"read": 3}
        assert row["query_translation"] == "migrasome[All Fields]"
        assert row["versions"] == {"spacy": "3.8"}
        assert store.last_successful_run("search", "") is not None


def test_a_file_that_is_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "corrupt.sqlite"
    path.write_bytes(b"this is not an sqlite database" * 200)
    with pytest.raises(StoreError, match="not a database"):
        Store(path)


def test_a_locked_database_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "locked.sqlite"
    Store(path).close()
    monkeypatch.setattr("minemig.store.BUSY_TIMEOUT_SECONDS", 0.1)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with Store(path) as store, pytest.raises(StoreError, match="locked"):
            store.write_batch(store.start_run("ingest"), [make_article()])
    finally:
        holder.execute("ROLLBACK")
        holder.close()


@settings(max_examples=60, deadline=None)
@given(
    title=st.text(max_size=200),
    abstract=st.text(min_size=1, max_size=400),
    evidence=st.text(min_size=1, max_size=300),
    negated=st.booleans(),
    size=st.one_of(st.none(), st.floats(min_value=0, max_value=1e6, allow_nan=False)),
)
def test_findings_round_trip_any_text(
    title: str, abstract: str, evidence: str, negated: bool, size: float | None
) -> None:
    article = make_article(title=title, abstract_sections=(AbstractSection(abstract),))
    finding = replace(
        make_finding(), evidence=evidence, negated=negated, size_min_nm=size, size_max_nm=size
    )
    with Store(":memory:") as store:
        store.write_batch(
            store.start_run("ingest"),
            [article],
            findings={article.pmid: [finding]},
            pipeline_version="v1",
        )
        (row,) = list(store.iter_findings())
    assert row["evidence"] == evidence and row["negated"] is negated
    assert row["size_min_nm"] == size

"""Wire the stages together: records → reader → store, in batches, one transaction each.

Only this module and the CLI know every stage. Each batch of records is read
(only the records whose content the current pipeline has not read yet) and then
written in one transaction, so an interrupted run loses at most the batch in
flight and the next run redoes exactly that.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from minemig import __version__
from minemig.errors import MinemigError
from minemig.fetch import EutilsClient, SearchResult, fetch_records
from minemig.models import Article, Deletion, Finding, SkippedRecord
from minemig.parse import iter_records
from minemig.store import Store, WriteCounts, article_content_hash

log = logging.getLogger("minemig")

RECORD_BATCH = 200

ProgressCallback = Callable[[int], None]


class ReaderLike(Protocol):
    """What orchestration needs of :class:`minemig.nlp.Reader` (kept spaCy-free here)."""

    @property
    def version(self) -> str: ...

    def read(self, articles: Iterable[Article]) -> Iterator[tuple[Article, list[Finding]]]: ...


@dataclass
class Tally:
    """Counts for the one-line summary a command prints."""

    read: int = 0
    skipped: int = 0
    extracted: int = 0
    written: WriteCounts = field(default_factory=WriteCounts)
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, int]:
        return {
            "read": self.read,
            "new": self.written.new,
            "updated": self.written.updated,
            "unchanged": self.written.unchanged,
            "deleted": self.written.deleted,
            "skipped": self.skipped,
            "extracted": self.extracted,
            "findings": self.written.findings,
        }

    def summary(self, command: str) -> str:
        w = self.written
        return (
            f"{command}: {self.read} records read: {w.new} new, {w.updated} updated,"
            f" {w.unchanged} unchanged, {w.deleted} deleted, {self.skipped} skipped;"
            f" {self.extracted} read for findings, {w.findings} findings stored"
        )


def expand_inputs(paths: Sequence[Path]) -> list[Path]:
    """Files as given; a folder stands for its PubMed XML files in name order."""
    expanded: list[Path] = []
    for path in paths:
        if path.is_dir():
            expanded.extend(
                sorted(p for p in path.iterdir() if p.name.endswith((".xml", ".xml.gz")))
            )
        else:
            expanded.append(path)
    return expanded


def versions(reader: ReaderLike | None) -> dict[str, str]:
    import importlib.metadata as metadata

    found = {"minemig": __version__}
    for package in ("spacy", "scispacy", "biopython"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = ""
    if reader is not None:
        found["pipeline"] = reader.version
    return found


def store_records(
    store: Store,
    run_id: int,
    records: Iterable[Article | Deletion | SkippedRecord],
    reader: ReaderLike | None,
    tally: Tally,
    on_findings: Callable[[Article, list[Finding]], None] | None = None,
    progress: ProgressCallback | None = None,
) -> None:
    """Read and store records in batches; ``on_findings`` sees every article read."""
    batch: list[Article] = []
    deletions: list[str] = []

    def flush() -> None:
        if not batch and not deletions:
            return
        # A record repeated inside one batch (update files do that) keeps its last version.
        latest = {a.pmid: a for a in batch}
        articles = list(latest.values())
        findings: dict[str, list[Finding]] = {}
        if reader is not None and articles:
            needed = store.pmids_needing_extraction(
                ((a.pmid, article_content_hash(a)) for a in articles), reader.version
            )
            to_read = [a for a in articles if a.pmid in needed]
            for article, article_findings in reader.read(to_read):
                findings[article.pmid] = article_findings
                if on_findings is not None:
                    on_findings(article, article_findings)
            tally.extracted += len(to_read)
        tally.written = tally.written + store.write_batch(
            run_id, articles, deletions, findings, reader.version if reader else ""
        )
        if progress is not None:
            progress(len(batch) + len(deletions))
        batch.clear()
        deletions.clear()

    for record in records:
        if isinstance(record, Article):
            tally.read += 1
            batch.append(record)
        elif isinstance(record, Deletion):
            tally.read += 1
            deletions.append(record.pmid)
        else:
            tally.read += 1
            tally.skipped += 1
            message = f"skipped PMID {record.pmid or '?'} in {record.source}: {record.reason}"
            tally.problems.append(message)
            log.warning(message)
        if len(batch) + len(deletions) >= RECORD_BATCH:
            flush()
    flush()


def ingest(
    store: Store,
    paths: Sequence[Path],
    reader: ReaderLike | None,
    pipeline: str,
    progress: ProgressCallback | None = None,
) -> Tally:
    """Load PubMed XML files into the store; every file is tried, errors are collected.

    A file that breaks part-way keeps what was read before the break; the run is
    then marked failed and the first error is raised once all files were tried.
    """
    tally = Tally()
    run_id = store.start_run("ingest", pipeline=pipeline, versions=versions(reader))
    errors: list[MinemigError] = []
    for path in expand_inputs(paths):
        try:
            store_records(
                store,
                run_id,
                iter_records(path, source_name=str(path)),
                reader,
                tally,
                progress=progress,
            )
        except MinemigError as exc:
            if exc.code.startswith("M5"):  # the store itself failed: stop at once
                store_finish_failed(store, run_id, tally, exc)
                raise
            errors.append(exc)
            log.error("%s", exc)
    if errors:
        store_finish_failed(store, run_id, tally, errors[0])
        raise errors[0]
    store.finish_run(run_id, "ok", counts=tally.as_dict())
    return tally


def store_finish_failed(store: Store, run_id: int, tally: Tally, exc: Exception) -> None:
    try:
        store.finish_run(run_id, "failed", counts=tally.as_dict(), error=str(exc))
    except MinemigError:
        log.debug("could not record the failed run", exc_info=True)


def search(
    store: Store,
    client: EutilsClient,
    term: str,
    reader: ReaderLike | None,
    pipeline: str,
    *,
    command: str = "search",
    mindate: str | None = None,
    maxdate: str | None = None,
    max_records: int | None = None,
    batch_size: int = 200,
    progress: ProgressCallback | None = None,
) -> tuple[Tally, list[str]]:
    """Fetch a PubMed query into the store; returns the tally and the PMIDs fetched.

    The query translation and NCBI's warnings are kept with the run, so a query
    that PubMed silently broadened can be seen afterwards.
    """
    tally = Tally()
    run_id = store.start_run(
        command,
        pipeline=pipeline,
        query=term,
        mindate=mindate or "",
        maxdate=maxdate or "",
        versions=versions(reader),
    )
    fetched_pmids: list[str] = []
    fetch = fetch_records(
        client,
        term,
        mindate=mindate,
        maxdate=maxdate,
        max_records=max_records,
        batch_size=batch_size,
    )

    def keep_pmids(records: Iterable[Article | Deletion | SkippedRecord]) -> Iterator[Any]:
        for record in records:
            if isinstance(record, Article):
                fetched_pmids.append(record.pmid)
            yield record

    try:
        for batch in fetch:
            source = f"efetch {batch.window} retstart {batch.retstart}"
            store_records(
                store,
                run_id,
                keep_pmids(iter_records(batch.xml, source_name=source)),
                reader,
                tally,
                progress=progress,
            )
    except MinemigError as exc:
        _record_searches(store, run_id, fetch.searches)
        store_finish_failed(store, run_id, tally, exc)
        raise
    _record_searches(store, run_id, fetch.searches)
    for search_result in fetch.searches[:1]:
        for warning in (*search_result.warnings, *search_result.errors):
            log.warning("PubMed says: %s", warning)
    store.finish_run(run_id, "ok", counts=tally.as_dict())
    return tally, fetched_pmids


def _record_searches(store: Store, run_id: int, searches: Sequence[SearchResult]) -> None:
    if not searches:
        return
    first = searches[0]
    warnings = [*first.warnings, *first.errors]
    store.record_search(run_id, first.query_translation, warnings)


def extract(
    paths: Sequence[Path], reader: ReaderLike, on_problem: Callable[[str], None]
) -> Iterator[Finding]:
    """Findings of the articles in files, with no store and no network."""
    for path in expand_inputs(paths):
        articles = _articles_only(iter_records(path, source_name=str(path)), on_problem)
        for _article, findings in reader.read(articles):
            yield from findings


def _articles_only(
    records: Iterable[Article | Deletion | SkippedRecord], on_problem: Callable[[str], None]
) -> Iterator[Article]:
    for record in records:
        if isinstance(record, Article):
            yield record
        elif isinstance(record, SkippedRecord):
            on_problem(f"skipped PMID {record.pmid or '?'} in {record.source}: {record.reason}")

"""Wire the stages together: records → reader → store, in batches, one transaction each.

Only this module and the CLI know every stage. Each batch of records is read
(only the records whose content the current pipeline has not read yet) and then
written in one transaction, so an interrupted run loses at most the batch in
flight and the next run redoes exactly that. :func:`update` adds the digest: a
queue of articles no digest has covered, drained by the transaction that records
the digest, so a digest entry is never lost or repeated either.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Protocol

from minemig import __version__
from minemig.baseline import Baseline
from minemig.diff import Delta, Paper, Reported, compare
from minemig.digest import render_markdown
from minemig.errors import ConfigError, MinemigError
from minemig.fetch import EutilsClient, RecordFetch, SearchResult, fetch_records
from minemig.models import Article, Deletion, Finding, SkippedRecord
from minemig.parse import iter_records
from minemig.settings import data_dir
from minemig.store import (
    Store,
    WriteCounts,
    article_content_hash,
    article_from_row,
    finding_from_row,
)
from minemig.topic import Topic

log = logging.getLogger("minemig")

RECORD_BATCH = 200

ProgressCallback = Callable[[int], None]


class ReaderLike(Protocol):
    """What orchestration needs of :class:`minemig.nlp.Reader` (kept spaCy-free here)."""

    @property
    def version(self) -> str: ...

    def read(self, articles: Iterable[Article]) -> Iterator[tuple[Article, list[Finding]]]: ...

    def read_batches(
        self, batches: Iterable[Sequence[Article]]
    ) -> Iterator[list[tuple[Article, list[Finding]]]]: ...

    def gazetteer_terms(self) -> dict[str, Any]: ...

    def can_reuse(self, version: str) -> bool: ...

    def unaffected(self, earlier: dict[str, Any], articles: Iterable[Article]) -> set[str]: ...


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


def file_fingerprint(path: Path) -> str:
    """The sha256 of a file's bytes; '' when it cannot be read (parsing reports why)."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as stream:
            while chunk := stream.read(1 << 20):
                digest.update(chunk)
    except OSError:
        return ""
    return digest.hexdigest()


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
        vocabularies = getattr(reader, "vocabularies", None)
        if vocabularies is not None:
            # Which public vocabulary releases read this run's articles, for provenance.
            found["vocabularies"] = vocabularies.describe()
    return found


@dataclass
class _Batch:
    """Records stored in one transaction, and the articles of them that need reading."""

    articles: list[Article]
    deletions: list[str]
    hashes: dict[str, str]
    size: int
    to_read: list[Article] = field(default_factory=list)
    reused: dict[str, list[Finding]] = field(default_factory=dict)


def store_records(
    store: Store,
    run_id: int,
    records: Iterable[Article | Deletion | SkippedRecord],
    reader: ReaderLike | None,
    tally: Tally,
    on_findings: Callable[[Article, list[Finding]], None] | None = None,
    progress: ProgressCallback | None = None,
    topic: str = "",
    source_file: int | None = None,
) -> None:
    """Read and store records in batches; ``on_findings`` sees every article read.

    With ``topic``, every stored article joins that topic's digest queue in its batch's
    transaction; ``source_file`` is the store's id of the file the records come from.
    Batches are written in input order; a reader with workers reads the next batches
    while one is written.
    """
    failure: list[MinemigError] = []
    pending: deque[_Batch] = deque()  # planned, not yet written
    unwritten: Counter[str] = Counter()  # their PMIDs

    def batches() -> Iterator[_Batch]:
        articles: list[Article] = []
        deletions: list[str] = []
        try:
            for record in records:
                tally.read += 1
                if isinstance(record, Article):
                    articles.append(record)
                elif isinstance(record, Deletion):
                    deletions.append(record.pmid)
                else:
                    tally.skipped += 1
                    message = (
                        f"skipped PMID {record.pmid or '?'} in {record.source}: {record.reason}"
                    )
                    tally.problems.append(message)
                    log.warning(message)
                if len(articles) + len(deletions) >= RECORD_BATCH:
                    yield _batch(articles, deletions)
                    articles, deletions = [], []
        except MinemigError as exc:
            # A file that breaks part-way keeps every record read before the break.
            failure.append(exc)
        if articles or deletions:
            yield _batch(articles, deletions)

    def planned() -> Iterator[list[Article]]:
        for batch in batches():
            if reader is not None and batch.articles:
                needed = store.pmids_needing_extraction(
                    ((a.pmid, batch.hashes[a.pmid]) for a in batch.articles), reader.version
                )
                # A PMID also in a batch not yet written is read again: the store cannot
                # yet say what that batch leaves behind.
                to_read = [a for a in batch.articles if a.pmid in needed or unwritten[a.pmid]]
                batch.reused = reuse_findings(store, reader, to_read, batch.hashes)
                batch.to_read = [a for a in to_read if a.pmid not in batch.reused]
            pending.append(batch)
            unwritten.update(a.pmid for a in batch.articles)
            yield batch.to_read

    def write(batch: _Batch, read: list[tuple[Article, list[Finding]]]) -> None:
        findings: dict[str, list[Finding]] = dict(batch.reused)
        for article, article_findings in read:
            findings[article.pmid] = article_findings
            if on_findings is not None:
                on_findings(article, article_findings)
        tally.extracted += len(read)
        tally.written = tally.written + store.write_batch(
            run_id,
            batch.articles,
            batch.deletions,
            findings,
            reader.version if reader else "",
            topic=topic,
            content_hashes=batch.hashes,
            source_file=source_file,
        )
        for article in batch.articles:
            unwritten[article.pmid] -= 1
            if not unwritten[article.pmid]:
                del unwritten[article.pmid]
        if progress is not None:
            progress(batch.size)

    if reader is None:
        for batch in batches():
            write(batch, [])
    else:
        remember_gazetteer(store, reader)
        for read in reader.read_batches(planned()):
            write(pending.popleft(), read)
    if failure:
        raise failure[0]


def remember_gazetteer(store: Store, reader: ReaderLike) -> None:
    """Keep the reader's gazetteer terms with the store, for :func:`reuse_findings` after
    the next gazetteer change."""
    if not store.has_gazetteer_terms(reader.version):
        store.save_gazetteer_terms(reader.version, reader.gazetteer_terms())


def reuse_findings(
    store: Store, reader: ReaderLike, articles: Sequence[Article], hashes: Mapping[str, str]
) -> dict[str, list[Finding]]:
    """Findings an earlier pipeline version found in these very articles, where only the
    gazetteer changed since and no changed term occurs in the text: they need no reading.
    ``hashes`` maps each PMID to the article's content hash."""
    earlier = store.earlier_readings(((a.pmid, hashes[a.pmid]) for a in articles), reader.version)
    by_version: dict[str, list[Article]] = {}
    for article in articles:
        version = earlier.get(article.pmid)
        if version is not None and reader.can_reuse(version):
            by_version.setdefault(version, []).append(article)
    reused: dict[str, list[Finding]] = {}
    for version, candidates in by_version.items():
        earlier_terms = store.gazetteer_terms(version)
        if earlier_terms is None:
            continue
        unaffected = sorted(reader.unaffected(earlier_terms, candidates))
        reused.update(store.stored_findings(unaffected, version))
    return reused


def _batch(records: list[Article], deletions: list[str]) -> _Batch:
    # A record repeated inside one batch (update files do that) keeps its last version.
    latest = {a.pmid: a for a in records}
    hashes = {pmid: article_content_hash(a) for pmid, a in latest.items()}
    return _Batch(list(latest.values()), deletions, hashes, len(records) + len(deletions))


def ingest(
    store: Store,
    paths: Sequence[Path],
    reader: ReaderLike | None,
    pipeline: str,
    progress: ProgressCallback | None = None,
) -> Tally:
    """Load PubMed XML files into the store; every file is tried, errors are collected.

    A file that breaks part-way keeps what was read before the break; the run is
    then marked failed and the first error is raised once all files were tried. A file
    whose bytes were stored before, when nothing has changed its records since and the
    reader has read them all, is not parsed again.
    """
    tally = Tally()
    run_id = store.start_run("ingest", pipeline=pipeline, versions=versions(reader))
    errors: list[MinemigError] = []
    for path in expand_inputs(paths):
        fingerprint = file_fingerprint(path)
        version = reader.version if reader is not None else None
        done = store.unchanged_file(fingerprint, version) if fingerprint else None
        if done is not None:
            log.info(
                "%s: stored by run %s and unchanged since; not read again", path, done["run_id"]
            )
            tally.read += done["records"]
            tally.skipped += done["skipped"]
            tally.written = tally.written + WriteCounts(unchanged=done["articles"])
            if progress is not None:
                progress(done["records"])
            continue
        file_id = store.start_file(run_id, fingerprint, str(path)) if fingerprint else None
        read_before, skipped_before = tally.read, tally.skipped
        try:
            store_records(
                store,
                run_id,
                iter_records(path, source_name=str(path)),
                reader,
                tally,
                progress=progress,
                source_file=file_id,
            )
            if file_id is not None:
                store.finish_file(
                    file_id,
                    records=tally.read - read_before,
                    skipped=tally.skipped - skipped_before,
                )
        except MinemigError as exc:
            if exc.code.startswith("M5"):  # the store itself failed: stop at once
                store_finish_failed(store, run_id, tally, exc)
                raise
            errors.append(exc)
            if len(errors) > 1:  # the first is the command's own error line
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
    # Checked before a run is recorded: a refused query or window leaves no run behind.
    fetch = fetch_records(
        client,
        term,
        mindate=mindate,
        maxdate=maxdate,
        max_records=max_records,
        batch_size=batch_size,
    )
    run_id = store.start_run(
        command,
        pipeline=pipeline,
        query=term,
        mindate=mindate or "",
        maxdate=maxdate or "",
        versions=versions(reader),
    )
    try:
        fetched_pmids = _fetch_into_store(store, run_id, fetch, reader, tally, progress=progress)
    except MinemigError as exc:
        store_finish_failed(store, run_id, tally, exc)
        raise
    store.finish_run(run_id, "ok", counts=tally.as_dict())
    return tally, fetched_pmids


def _fetch_into_store(
    store: Store,
    run_id: int,
    fetch: RecordFetch,
    reader: ReaderLike | None,
    tally: Tally,
    *,
    progress: ProgressCallback | None = None,
    topic: str = "",
) -> list[str]:
    """Store every batch of ``fetch`` and keep its searches with the run; the PMIDs fetched."""
    fetched_pmids: list[str] = []

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
                topic=topic,
            )
    finally:
        _record_searches(store, run_id, fetch.searches)
    # fetch has already reported NCBI's warnings and errors once; the run keeps them.
    return fetched_pmids


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


# -- update and digest ------------------------------------------------------------------


@dataclass
class UpdateResult:
    """What one ``update`` did, for its one-line summary."""

    pipeline: str
    tally: Tally
    delta: Delta | None = None
    digest_path: Path | None = None
    recovered: list[Path] = field(default_factory=list)  # digests of killed runs, written now

    def summary(self) -> str:
        w = self.tally.written
        line = (
            f"update {self.pipeline}: {_count(self.tally.read, 'record')} fetched ({w.new} new,"
            f" {w.updated} revised, {w.unchanged} unchanged)"
        )
        if self.recovered:
            line += f"; wrote {len(self.recovered)} digest(s) left by an interrupted run"
        if self.delta is None or self.digest_path is None:
            return line + "; nothing new"
        d = self.delta
        return (
            f"{line}; digest of {_count(len(d.papers), 'paper')}:"
            f" {_count(len(d.new), 'new finding')},"
            f" {_count(len(d.contradictions), 'contradiction')},"
            f" {_count(len(d.retractions), 'retraction')} -> {self.digest_path}"
        )


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def default_digest_dir(topic: Topic) -> Path:
    """The topic's ``[digest] out_dir``; a relative one is taken from the data directory."""
    folder = topic.digest_dir.expanduser()
    return folder if folder.is_absolute() else data_dir() / folder


def update(
    store: Store,
    client: EutilsClient,
    topic: Topic,
    reader: ReaderLike,
    baseline: Baseline,
    digest_dir: Path,
    *,
    today: date | None = None,
    progress: ProgressCallback | None = None,
) -> UpdateResult:
    """Fetch what PubMed added since the last successful update, read it, store it, and
    write a digest of everything no digest has covered yet. The caller holds the lock.

    The window starts ``overlap_days`` before the entry date the last successful update
    reached (the first update fetches everything). Each batch joins the digest queue in
    its own transaction; the digest, the keys it reports and the end of the run are one
    more transaction, and the file is written from the copy kept in the store. A run
    killed anywhere therefore leaves work the next run completes, never work done twice.
    """
    today = today or date.today()
    _make_dir(digest_dir)
    recovered = write_unwritten_digests(store, topic.name)
    store.mark_interrupted("update", topic.name)
    mindate = update_mindate(store.last_successful_run("update", topic.name), topic)
    run_id = store.start_run(
        "update",
        pipeline=topic.name,
        query=topic.query_term,
        mindate=mindate or "",
        versions=versions(reader),
    )
    tally = Tally()
    maxdate = today.strftime("%Y/%m/%d")
    try:
        fetch = fetch_records(
            client,
            topic.query_term,
            mindate=mindate,
            datetype=topic.datetype,
            batch_size=topic.batch_size,
        )
        _fetch_into_store(store, run_id, fetch, reader, tally, progress=progress, topic=topic.name)
        rows = store.undigested_articles(topic.name)
        read_missing(store, run_id, rows, reader)
        last = store.last_digest(topic.name)
        delta = digest_delta(
            store,
            baseline,
            topic,
            reader.version,
            rows,
            store.reported(topic.name),
            previous_version=last.pipeline_version if last else "",
        )
        if delta.is_empty:
            store.finish_run(run_id, "ok", counts=tally.as_dict(), maxdate=maxdate)
            return UpdateResult(topic.name, tally, recovered=recovered)
        if last is not None:
            period = f"Records new or revised since the digest of {last.day}."
        else:
            period = "First digest: every record the topic's query matched."
        markdown = render_markdown(
            delta, title=topic.digest_title, day=today.isoformat(), period=period
        )
        path = free_digest_path(store, digest_dir, topic.name, today)
        digest_id = store.commit_digest(
            run_id,
            topic.name,
            pipeline_version=reader.version,
            day=today.isoformat(),
            path=str(path),
            markdown=markdown,
            new_keys={g.key: g.entity for g in delta.new},
            cited=delta.support_to_record(),
            digested=[(row["pmid"], row["content_hash"]) for row in rows],
            counts={**tally.as_dict(), **digest_counts(delta)},
            maxdate=maxdate,
        )
    except MinemigError as exc:
        store_finish_failed(store, run_id, tally, exc)
        raise
    write_digest_file(path, markdown)
    store.mark_digest_written(digest_id)
    return UpdateResult(topic.name, tally, delta, path, recovered)


def update_mindate(last_run: dict[str, Any] | None, topic: Topic) -> str | None:
    """Where the next fetch starts: ``overlap_days`` before what the last update reached."""
    if last_run is None:
        return topic.first_mindate or None
    reached = last_run["maxdate"] or last_run["started_at"][:10]
    year, month, day = (int(part) for part in reached.replace("-", "/").split("/")[:3])
    start = date(year, month, day) - timedelta(days=topic.overlap_days)
    return start.strftime("%Y/%m/%d")


def read_missing(
    store: Store, run_id: int, rows: Sequence[dict[str, Any]], reader: ReaderLike
) -> int:
    """Read the stored articles the current pipeline version has not read, so a digest
    compares findings of one version only; returns how many were read (articles whose
    findings carry over from an earlier gazetteer, see :func:`reuse_findings`, are not)."""
    needed = store.pmids_needing_extraction(
        ((row["pmid"], row["content_hash"]) for row in rows), reader.version
    )
    articles = [article_from_row(row) for row in rows if row["pmid"] in needed]
    hashes = {row["pmid"]: row["content_hash"] for row in rows}
    remember_gazetteer(store, reader)
    reused: deque[dict[str, list[Finding]]] = deque()

    def planned() -> Iterator[list[Article]]:
        for start in range(0, len(articles), RECORD_BATCH):
            chunk = articles[start : start + RECORD_BATCH]
            reused.append(reuse_findings(store, reader, chunk, hashes))
            yield [a for a in chunk if a.pmid not in reused[-1]]

    count = 0
    for read in reader.read_batches(planned()):
        findings = reused.popleft()
        findings.update((article.pmid, found) for article, found in read)
        count += len(read)
        store.write_batch(run_id, findings=findings, pipeline_version=reader.version)
    return count


def digest_delta(
    store: Store,
    baseline: Baseline,
    topic: Topic,
    pipeline_version: str,
    rows: Sequence[dict[str, Any]],
    reported: dict[tuple[str, str, str], dict[str, Any]],
    *,
    previous_version: str = "",
) -> Delta:
    """The diff of these stored articles, under one pipeline version."""
    papers = [Paper.of(article_from_row(row), revised=bool(row["revised"])) for row in rows]
    findings = store.findings_of([row["pmid"] for row in rows], pipeline_version)
    return compare(
        baseline,
        (finding_from_row(row) for row in findings),
        papers,
        {
            key: Reported(
                *key, entity=entry["entity"], day=entry["day"], pmids=frozenset(entry["pmids"])
            )
            for key, entry in reported.items()
        },
        topic.watched_ev_types,
        pipeline_version=pipeline_version,
        previous_version=previous_version,
        retracted=store.retracted_pmids(),
    )


def digest_counts(delta: Delta) -> dict[str, int]:
    return {
        "papers": len(delta.papers),
        "new_findings": len(delta.new),
        "contradictions": len(delta.contradictions),
        "retractions": len(delta.retractions),
    }


def free_digest_path(store: Store, folder: Path, pipeline: str, day: date) -> Path:
    """``<pipeline>-<day>.md``, or ``-2``, ``-3``… when a digest of that day exists: a
    digest file is never overwritten by another digest."""
    taken = store.digest_paths()
    for n in range(1, 1000):
        suffix = "" if n == 1 else f"-{n}"
        path = folder / f"{pipeline}-{day.isoformat()}{suffix}.md"
        if str(path) not in taken and not path.exists():
            return path
    raise ConfigError(f"{folder}: too many digests of {pipeline} dated {day.isoformat()}")


def write_unwritten_digests(store: Store, pipeline: str) -> list[Path]:
    """Write the files of digests committed by a run killed before it wrote them."""
    written = []
    for record in store.unwritten_digests(pipeline):
        path = Path(record.path)
        _make_dir(path.parent)
        write_digest_file(path, record.markdown)
        store.mark_digest_written(record.id)
        written.append(path)
    return written


def write_digest_file(path: Path, text: str, *, kept: bool = True) -> None:
    """Write atomically: a temporary file beside the target, synced, then renamed over it.
    ``kept`` says the text is also in the store, so the next update writes it again."""
    temporary = path.with_name(f".{path.name}.tmp")
    try:
        with open(temporary, "w", encoding="utf-8", newline="\n") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except OSError as exc:
        hint = (
            "the digest is kept in the database and written by the next update;"
            " fix the folder or choose another --digest-dir"
            if kept
            else "choose another file"
        )
        raise ConfigError(f"cannot write {path}: {exc.strerror or exc} ({hint})") from None


def _make_dir(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"cannot create the digest folder {folder}: {exc.strerror or exc}"
            " (choose another --digest-dir)"
        ) from None


def digest_between(
    store: Store,
    baseline: Baseline,
    topic: Topic,
    reader: ReaderLike,
    *,
    since: str | None = None,
    until: str | None = None,
    today: date | None = None,
) -> str:
    """The digest of the records stored or revised between two UTC timestamps (default:
    since the last digest). New means not reported by a digest made before ``since``.
    Marks nothing as reported."""
    last = store.last_digest(topic.name)
    after_run = 0
    if since is None and last is not None:
        # Runs, not timestamps, order what came after it: both are in seconds.
        after_run = last.run_id or 0
        since = last.created_at
        period = f"Records stored or revised since the digest of {last.day}."
    elif since is not None and until is not None:
        period = f"Records stored or revised from {since[:10]} to {until[:10]} (UTC)."
    elif since is not None:
        period = f"Records stored or revised from {since[:10]} on (UTC)."
    elif until is not None:
        period = f"Records stored or revised up to {until[:10]} (UTC)."
    else:
        period = "Every record in the store."
    rows = store.articles_changed(
        "" if after_run else since or "", until or "9999", after_run=after_run
    )
    if store.pmids_needing_extraction(
        ((r["pmid"], r["content_hash"]) for r in rows), reader.version
    ):
        run_id = store.start_run("digest", pipeline=topic.name, versions=versions(reader))
        tally = Tally(extracted=read_missing(store, run_id, rows, reader))
        store.finish_run(run_id, "ok", counts=tally.as_dict())
    reported = store.reported(topic.name, created_until=since) if since else {}
    delta = digest_delta(
        store,
        baseline,
        topic,
        reader.version,
        rows,
        reported,
        previous_version=last.pipeline_version if last else "",
    )
    day = (today or date.today()).isoformat()
    return render_markdown(delta, title=topic.digest_title, day=day, period=period)

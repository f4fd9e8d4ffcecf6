"""The SQLite store: runs, articles, findings and digests, behind named migrations.

All SQL lives here. Every write that belongs together is one transaction, so a
run killed at any point leaves either the whole batch or none of it, and the next
run can simply do the batch again: articles are upserted by PMID and findings are
replaced per (PMID, pipeline version), which makes every write idempotent.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from minemig.errors import StoreError
from minemig.models import AbstractSection, Article, Finding, PubDate

BUSY_TIMEOUT_SECONDS = 10.0
# Host parameters per ``IN (...)`` list, well below SQLite's limit (999 before 3.32).
_IN_LIST = 500


def _utcnow() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


# Named migrations, applied in order once each and recorded in `_migrations`.
# Never edit one that has shipped: add a new one.
MIGRATIONS: list[tuple[str, str]] = [
    (
        "0001_runs_articles_findings",
        """
        CREATE TABLE runs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            command TEXT NOT NULL,
            pipeline TEXT NOT NULL DEFAULT '',
            query TEXT NOT NULL DEFAULT '',
            query_translation TEXT NOT NULL DEFAULT '',
            warnings TEXT NOT NULL DEFAULT '[]',
            mindate TEXT NOT NULL DEFAULT '',
            maxdate TEXT NOT NULL DEFAULT '',
            started_at TEXT NOT NULL,
            finished_at TEXT,
            status TEXT NOT NULL DEFAULT 'running',
            error TEXT NOT NULL DEFAULT '',
            counts TEXT NOT NULL DEFAULT '{}',
            versions TEXT NOT NULL DEFAULT '{}'
        );
        CREATE TABLE articles (
            pmid TEXT PRIMARY KEY,
            version INTEGER NOT NULL DEFAULT 1,
            title TEXT NOT NULL DEFAULT '',
            abstract TEXT NOT NULL DEFAULT '',
            sections TEXT NOT NULL DEFAULT '[]',
            journal TEXT NOT NULL DEFAULT '',
            pub_year INTEGER,
            pub_month INTEGER,
            pub_day INTEGER,
            pub_date_raw TEXT NOT NULL DEFAULT '',
            doi TEXT NOT NULL DEFAULT '',
            pmcid TEXT NOT NULL DEFAULT '',
            mesh TEXT NOT NULL DEFAULT '[]',
            publication_types TEXT NOT NULL DEFAULT '[]',
            language TEXT NOT NULL DEFAULT '',
            is_book INTEGER NOT NULL DEFAULT 0,
            content_hash TEXT NOT NULL,
            deleted INTEGER NOT NULL DEFAULT 0,
            revised INTEGER NOT NULL DEFAULT 0,
            first_run INTEGER REFERENCES runs(id),
            last_changed_run INTEGER REFERENCES runs(id)
        );
        CREATE TABLE findings (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            pmid TEXT NOT NULL REFERENCES articles(pmid),
            pipeline_version TEXT NOT NULL,
            ev_type TEXT NOT NULL,
            category TEXT NOT NULL,
            entity TEXT NOT NULL,
            entity_id TEXT NOT NULL,
            predicate TEXT NOT NULL DEFAULT '',
            negated INTEGER NOT NULL,
            speculative INTEGER NOT NULL,
            evidence TEXT NOT NULL,
            sentence_index INTEGER NOT NULL,
            start_char INTEGER NOT NULL,
            end_char INTEGER NOT NULL,
            unlisted INTEGER NOT NULL DEFAULT 0,
            size_min_nm REAL,
            size_max_nm REAL,
            run_id INTEGER REFERENCES runs(id)
        );
        CREATE INDEX findings_by_pmid ON findings(pmid, pipeline_version);
        CREATE INDEX findings_by_key ON findings(ev_type, category, entity_id);
        -- Which article content each pipeline version has already read: re-reading
        -- unchanged records costs nothing.
        CREATE TABLE extractions (
            pmid TEXT NOT NULL REFERENCES articles(pmid),
            pipeline_version TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            run_id INTEGER REFERENCES runs(id),
            PRIMARY KEY (pmid, pipeline_version)
        );
        """,
    ),
    (
        "0002_digests_and_reported_keys",
        """
        -- Every digest, with its markdown, so that a file lost between the commit and
        -- the write is written by the next run.
        CREATE TABLE digests (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            pipeline TEXT NOT NULL,
            run_id INTEGER REFERENCES runs(id),
            pipeline_version TEXT NOT NULL,
            day TEXT NOT NULL,
            path TEXT NOT NULL,
            markdown TEXT NOT NULL,
            counts TEXT NOT NULL DEFAULT '{}',
            created_at TEXT NOT NULL,
            written_at TEXT
        );
        CREATE INDEX digests_by_pipeline ON digests(pipeline, id);
        -- The articles a topic's updates fetched, and the content a digest last covered:
        -- an article waits for the next digest while its content differs from that.
        CREATE TABLE topic_articles (
            pipeline TEXT NOT NULL,
            pmid TEXT NOT NULL REFERENCES articles(pmid),
            first_run INTEGER REFERENCES runs(id),
            digested_hash TEXT,
            digest_id INTEGER REFERENCES digests(id),
            PRIMARY KEY (pipeline, pmid)
        );
        -- Finding keys a digest reported as new. Keyed by the key alone, not the pipeline
        -- version, so re-reading with a new vocabulary never makes an old key new again.
        CREATE TABLE reported (
            pipeline TEXT NOT NULL,
            ev_type TEXT NOT NULL,
            category TEXT NOT NULL,
            entity_id TEXT NOT NULL,
            entity TEXT NOT NULL,
            digest_id INTEGER NOT NULL REFERENCES digests(id),
            pipeline_version TEXT NOT NULL,
            PRIMARY KEY (pipeline, ev_type, category, entity_id)
        );
        -- The papers digests cited for reported keys, so a later retraction is reported.
        CREATE TABLE reported_support (
            pipeline TEXT NOT NULL,
            ev_type TEXT NOT NULL,
            category TEXT NOT NULL,
            entity_id TEXT NOT NULL,
            pmid TEXT NOT NULL,
            digest_id INTEGER NOT NULL REFERENCES digests(id),
            PRIMARY KEY (pipeline, ev_type, category, entity_id, pmid)
        );
        CREATE INDEX reported_support_by_pmid ON reported_support(pmid)
        """,
    ),
    (
        "0003_ingested_files_and_gazetteer_terms",
        """
        -- PubMed XML files ingested, by the sha256 of their bytes. articles stays NULL until
        -- the whole file was stored. An article keeps the file whose ingest last wrote or
        -- confirmed its content (article_files), and a file the PMIDs it deleted: ingesting
        -- a file again when none of that has changed since is skipped without parsing it.
        CREATE TABLE ingested_files (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            fingerprint TEXT NOT NULL,
            name TEXT NOT NULL,
            run_id INTEGER REFERENCES runs(id),
            records INTEGER NOT NULL DEFAULT 0,
            skipped INTEGER NOT NULL DEFAULT 0,
            articles INTEGER
        );
        CREATE INDEX ingested_files_by_fingerprint ON ingested_files(fingerprint, id);
        CREATE TABLE article_files (
            pmid TEXT PRIMARY KEY REFERENCES articles(pmid),
            file_id INTEGER NOT NULL REFERENCES ingested_files(id)
        );
        CREATE INDEX article_files_by_file ON article_files(file_id);
        CREATE TABLE file_deletions (
            file_id INTEGER NOT NULL REFERENCES ingested_files(id),
            pmid TEXT NOT NULL,
            PRIMARY KEY (file_id, pmid)
        );
        -- The gazetteer each pipeline version read with (JSON), so that after a gazetteer
        -- change an article no changed term occurs in keeps its findings, unread.
        CREATE TABLE gazetteer_terms (
            pipeline_version TEXT PRIMARY KEY,
            terms TEXT NOT NULL
        )
        """,
    ),
]

Key = tuple[str, str, str]


@dataclass(frozen=True)
class DigestRecord:
    """A committed digest; ``written_at`` is empty until its file has been written."""

    id: int
    pipeline: str
    run_id: int | None
    pipeline_version: str
    day: str
    path: str
    markdown: str
    counts: dict[str, int]
    created_at: str
    written_at: str


@dataclass(frozen=True)
class WriteCounts:
    """What one batch did to the store."""

    new: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    findings: int = 0

    def __add__(self, other: WriteCounts) -> WriteCounts:
        return WriteCounts(
            **{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)}
        )


def article_content_hash(article: Article) -> str:
    """A digest of everything a record says, so a revised record is recognised as changed."""
    payload = json.dumps(_plain(article), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _plain(value: Any) -> Any:
    """``dataclasses.asdict`` as JSON sees it, without asdict's deep copies (several times
    faster, the same bytes: stored hashes stay valid)."""
    if isinstance(value, (tuple, list)):
        return [_plain(item) for item in value]
    if hasattr(value, "__dataclass_fields__"):
        return {name: _plain(getattr(value, name)) for name in value.__dataclass_fields__}
    return value


def _store_error(path: str, exc: sqlite3.Error) -> StoreError:
    text = str(exc)
    if "locked" in text or "busy" in text:
        hint = "another minemig process is writing to it; try again when it has finished"
    elif "readonly" in text or "read-only" in text:
        hint = "the file or its folder is read-only; choose another --db or fix the permissions"
    elif "not a database" in text or "malformed" in text:
        hint = "the file is not a minemig database or is corrupt; point --db at another file"
    elif "disk" in text and "full" in text:
        hint = "the disk is full; free space and run again (nothing of this batch was kept)"
    elif "unable to open" in text:
        hint = (
            "check that the folder exists and is writable: SQLite keeps files beside the database"
        )
    else:
        hint = "nothing of the failed batch was kept"
    return StoreError(f"database {path}: {text} ({hint})")


class Store:
    """One SQLite database. Use as a context manager; ``path=':memory:'`` for tests."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        try:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None
            )
            self._conn.row_factory = sqlite3.Row
            self._conn.execute("PRAGMA foreign_keys = ON")
            if self.path != ":memory:":
                # WAL lets readers (export, digest) run while a cron update writes.
                self._conn.execute("PRAGMA journal_mode = WAL")
            self._migrate()
        except sqlite3.Error as exc:
            raise _store_error(self.path, exc) from None
        except OSError as exc:
            raise StoreError(f"database {self.path}: {exc.strerror or exc}") from None

    # -- lifecycle -----------------------------------------------------------------

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
        if isinstance(exc_info[1], sqlite3.Error):  # a read met a damaged or locked file
            raise _store_error(self.path, exc_info[1]) from None

    def _transaction(self, work: Callable[[sqlite3.Connection], Any]) -> Any:
        """Run ``work`` in one IMMEDIATE transaction; any failure rolls all of it back."""
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = work(conn)
                conn.execute("COMMIT")
            except BaseException:
                # SQLite ends the transaction itself on some errors (disk full, I/O error);
                # a second ROLLBACK would hide the real error behind "no transaction is active".
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            return result
        except sqlite3.Error as exc:
            raise _store_error(self.path, exc) from None

    def _migrate(self) -> None:
        conn = self._conn
        conn.execute(
            "CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT)"
        )
        applied = {row[0] for row in conn.execute("SELECT name FROM _migrations")}
        for name, sql in MIGRATIONS:
            if name in applied:
                continue

            def apply(c: sqlite3.Connection, name: str = name, sql: str = sql) -> None:
                for statement in _split_sql(sql):
                    c.execute(statement)
                c.execute("INSERT INTO _migrations VALUES (?, ?)", (name, _utcnow()))

            self._transaction(apply)

    def applied_migrations(self) -> list[str]:
        return [row[0] for row in self._conn.execute("SELECT name FROM _migrations ORDER BY name")]

    # -- runs ----------------------------------------------------------------------

    def start_run(
        self,
        command: str,
        *,
        pipeline: str = "",
        query: str = "",
        mindate: str = "",
        maxdate: str = "",
        versions: Mapping[str, str] | None = None,
    ) -> int:
        def work(c: sqlite3.Connection) -> int:
            cursor = c.execute(
                "INSERT INTO runs (command, pipeline, query, mindate, maxdate, started_at,"
                " versions) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    command,
                    pipeline,
                    query,
                    mindate,
                    maxdate,
                    _utcnow(),
                    json.dumps(dict(versions or {}), sort_keys=True),
                ),
            )
            return int(cursor.lastrowid or 0)

        return int(self._transaction(work))

    def record_search(self, run_id: int, query_translation: str, warnings: Sequence[str]) -> None:
        self._transaction(
            lambda c: c.execute(
                "UPDATE runs SET query_translation = ?, warnings = ? WHERE id = ?",
                (query_translation, json.dumps(list(warnings)), run_id),
            )
        )

    def finish_run(
        self,
        run_id: int,
        status: str,
        *,
        counts: Mapping[str, int] | None = None,
        error: str = "",
        maxdate: str | None = None,
    ) -> None:
        self._transaction(lambda c: _finish_run(c, run_id, status, counts, error, maxdate))

    def runs(self) -> list[dict[str, Any]]:
        return [_run_row(row) for row in self._conn.execute("SELECT * FROM runs ORDER BY id")]

    def last_successful_run(self, command: str, pipeline: str) -> dict[str, Any] | None:
        row = self._conn.execute(
            "SELECT * FROM runs WHERE command = ? AND pipeline = ? AND status = 'ok'"
            " ORDER BY id DESC LIMIT 1",
            (command, pipeline),
        ).fetchone()
        return _run_row(row) if row else None

    # -- articles and findings -----------------------------------------------------

    def write_batch(
        self,
        run_id: int,
        articles: Iterable[Article] = (),
        deleted_pmids: Iterable[str] = (),
        findings: Mapping[str, Sequence[Finding]] | None = None,
        pipeline_version: str = "",
        topic: str = "",
        content_hashes: Mapping[str, str] | None = None,
        source_file: int | None = None,
    ) -> WriteCounts:
        """Upsert articles, apply deletions and replace findings, all in one transaction.

        ``findings`` maps a PMID to all findings of that article under
        ``pipeline_version``; a PMID present with an empty list records that the
        article was read and yielded nothing. With ``topic``, the articles join that
        topic's digest queue in the same transaction. ``content_hashes`` may give the
        articles' :func:`article_content_hash` when the caller has them already;
        ``source_file`` is the :meth:`start_file` id of the file the records come from.
        """
        articles = list(articles)
        deleted_pmids = list(deleted_pmids)
        hashes = content_hashes or {}

        def work(c: sqlite3.Connection) -> WriteCounts:
            new = updated = unchanged = deleted = written = 0
            for article in articles:
                content_hash = hashes.get(article.pmid) or article_content_hash(article)
                outcome = _upsert_article(c, article, run_id, content_hash, source_file)
                new += outcome == "new"
                updated += outcome == "updated"
                unchanged += outcome == "unchanged"
            for pmid in deleted_pmids:
                cursor = c.execute(
                    "UPDATE articles SET deleted = 1, last_changed_run = ?"
                    " WHERE pmid = ? AND deleted = 0",
                    (run_id, pmid),
                )
                deleted += cursor.rowcount
            if source_file is not None:
                c.executemany(
                    "INSERT INTO file_deletions (file_id, pmid) VALUES (?, ?)"
                    " ON CONFLICT (file_id, pmid) DO NOTHING",
                    [(source_file, pmid) for pmid in deleted_pmids],
                )
            for pmid, rows in (findings or {}).items():
                written += _replace_findings(c, pmid, rows, pipeline_version, run_id)
            if topic:
                c.executemany(
                    "INSERT INTO topic_articles (pipeline, pmid, first_run) VALUES (?, ?, ?)"
                    " ON CONFLICT (pipeline, pmid) DO NOTHING",
                    [(topic, article.pmid, run_id) for article in articles],
                )
            return WriteCounts(new, updated, unchanged, deleted, written)

        counts: WriteCounts = self._transaction(work)
        return counts

    def start_file(self, run_id: int, fingerprint: str, name: str) -> int:
        """Record that a file's records are about to be stored; its id for ``write_batch``."""

        def work(c: sqlite3.Connection) -> int:
            cursor = c.execute(
                "INSERT INTO ingested_files (fingerprint, name, run_id) VALUES (?, ?, ?)",
                (fingerprint, name, run_id),
            )
            return int(cursor.lastrowid or 0)

        return int(self._transaction(work))

    def finish_file(self, file_id: int, *, records: int, skipped: int) -> None:
        """Record that every record of the file was stored."""
        self._transaction(
            lambda c: c.execute(
                "UPDATE ingested_files SET records = ?, skipped = ?, articles = (SELECT COUNT(*)"
                " FROM article_files f JOIN articles a ON a.pmid = f.pmid"
                " WHERE f.file_id = ? AND a.deleted = 0) WHERE id = ?",
                (records, skipped, file_id, file_id),
            )
        )

    def unchanged_file(
        self, fingerprint: str, pipeline_version: str | None
    ) -> dict[str, Any] | None:
        """The last complete ingest of a file with these bytes, if storing the file again
        would change nothing: each of its live articles still holds the content that ingest
        left (nothing wrote or deleted it since), each PMID it deleted is still deleted or
        absent, and ``pipeline_version`` (unless None) has read every one of those articles.
        """
        conn = self._conn
        row = conn.execute(
            "SELECT * FROM ingested_files WHERE fingerprint = ? AND articles IS NOT NULL"
            " ORDER BY id DESC LIMIT 1",
            (fingerprint,),
        ).fetchone()
        if row is None:
            return None
        live = conn.execute(
            "SELECT COUNT(*) FROM article_files f JOIN articles a ON a.pmid = f.pmid"
            " WHERE f.file_id = ? AND a.deleted = 0",
            (row["id"],),
        ).fetchone()[0]
        if live != row["articles"]:
            return None
        revived = conn.execute(
            "SELECT COUNT(*) FROM file_deletions d JOIN articles a ON a.pmid = d.pmid"
            " WHERE d.file_id = ? AND a.deleted = 0",
            (row["id"],),
        ).fetchone()[0]
        if revived:
            return None
        if pipeline_version is not None:
            read = conn.execute(
                "SELECT COUNT(*) FROM article_files f JOIN articles a ON a.pmid = f.pmid"
                " JOIN extractions e ON e.pmid = a.pmid AND e.pipeline_version = ?"
                " AND e.content_hash = a.content_hash WHERE f.file_id = ? AND a.deleted = 0",
                (pipeline_version, row["id"]),
            ).fetchone()[0]
            if read != live:
                return None
        return dict(row)

    def has_gazetteer_terms(self, pipeline_version: str) -> bool:
        row = self._conn.execute(
            "SELECT 1 FROM gazetteer_terms WHERE pipeline_version = ?", (pipeline_version,)
        ).fetchone()
        return row is not None

    def save_gazetteer_terms(self, pipeline_version: str, terms: Mapping[str, Any]) -> None:
        self._transaction(
            lambda c: c.execute(
                "INSERT INTO gazetteer_terms (pipeline_version, terms) VALUES (?, ?)"
                " ON CONFLICT (pipeline_version) DO NOTHING",
                (pipeline_version, json.dumps(terms, ensure_ascii=False, sort_keys=True)),
            )
        )

    def gazetteer_terms(self, pipeline_version: str) -> dict[str, Any] | None:
        row = self._conn.execute(
            "SELECT terms FROM gazetteer_terms WHERE pipeline_version = ?", (pipeline_version,)
        ).fetchone()
        return json.loads(row[0]) if row else None

    def earlier_readings(
        self, pmids_and_hashes: Iterable[tuple[str, str]], pipeline_version: str
    ) -> dict[str, str]:
        """For each PMID, the latest other pipeline version that read this very content and
        whose gazetteer terms are kept."""
        wanted = dict(pmids_and_hashes)
        found: dict[str, str] = {}
        rows = self._rows_for(
            "SELECT e.pmid, e.pipeline_version, e.content_hash FROM extractions e"
            " JOIN gazetteer_terms g ON g.pipeline_version = e.pipeline_version"
            " WHERE e.pipeline_version != ? AND e.pmid IN ({pmids}) ORDER BY e.run_id",
            (pipeline_version,),
            list(wanted),
        )
        for pmid, version, content_hash in rows:
            if wanted[pmid] == content_hash:
                found[pmid] = version  # the latest run wins
        return found

    def stored_findings(
        self, pmids: Sequence[str], pipeline_version: str
    ) -> dict[str, list[Finding]]:
        """Each PMID's findings under ``pipeline_version``, in the order they were found."""
        found: dict[str, list[Finding]] = {pmid: [] for pmid in pmids}
        rows = self._rows_for(
            "SELECT * FROM findings WHERE pipeline_version = ? AND pmid IN ({pmids}) ORDER BY id",
            (pipeline_version,),
            pmids,
        )
        for row in rows:
            found[row["pmid"]].append(finding_from_row(_finding_flags(row)))
        return found

    def pmids_needing_extraction(
        self, pmids_and_hashes: Iterable[tuple[str, str]], pipeline_version: str
    ) -> set[str]:
        """The PMIDs whose current content this pipeline version has not read yet."""
        wanted = dict(pmids_and_hashes)
        rows = self._rows_for(
            "SELECT pmid, content_hash FROM extractions WHERE pipeline_version = ?"
            " AND pmid IN ({pmids})",
            (pipeline_version,),
            list(wanted),
        )
        read = {row[0]: row[1] for row in rows}
        return {pmid for pmid, content_hash in wanted.items() if read.get(pmid) != content_hash}

    def _rows_for(
        self, sql: str, params: Sequence[Any], pmids: Sequence[str]
    ) -> Iterator[sqlite3.Row]:
        """The rows of ``sql`` for all ``pmids``, which fill its ``IN ({pmids})`` list a
        bounded number at a time."""
        for start in range(0, len(pmids), _IN_LIST):
            chunk = pmids[start : start + _IN_LIST]
            marks = ", ".join("?" * len(chunk))
            yield from self._conn.execute(sql.format(pmids=marks), (*params, *chunk))

    def article_count(self, include_deleted: bool = False) -> int:
        sql = "SELECT COUNT(*) FROM articles"
        if not include_deleted:
            sql += " WHERE deleted = 0"
        return int(self._conn.execute(sql).fetchone()[0])

    def get_article(self, pmid: str) -> dict[str, Any] | None:
        row = self._conn.execute("SELECT * FROM articles WHERE pmid = ?", (pmid,)).fetchone()
        return _article_row(row) if row else None

    def iter_articles(self, include_deleted: bool = False) -> Iterator[dict[str, Any]]:
        sql = "SELECT * FROM articles"
        if not include_deleted:
            sql += " WHERE deleted = 0"
        sql += " ORDER BY CAST(pmid AS INTEGER), pmid"
        for row in self._conn.execute(sql):
            yield _article_row(row)

    def iter_findings(
        self, pipeline_version: str | None = None, include_deleted: bool = False
    ) -> Iterator[dict[str, Any]]:
        """Stored findings with their article's publication date, in a stable order."""
        sql = (
            "SELECT f.*, a.pub_year, a.pub_month, a.pub_day, a.publication_types, a.title"
            " FROM findings f JOIN articles a ON a.pmid = f.pmid WHERE 1 = 1"
        )
        params: list[Any] = []
        if pipeline_version is not None:
            sql += " AND f.pipeline_version = ?"
            params.append(pipeline_version)
        if not include_deleted:
            sql += " AND a.deleted = 0"
        sql += " ORDER BY CAST(f.pmid AS INTEGER), f.pmid, f.sentence_index, f.start_char, f.id"
        for row in self._conn.execute(sql, params):
            yield _finding_row(row)

    def findings_of(self, pmids: Sequence[str], pipeline_version: str) -> list[dict[str, Any]]:
        """The stored findings of these articles, in the order the PMIDs are given."""
        wanted = list(dict.fromkeys(pmids))
        by_pmid: dict[str, list[dict[str, Any]]] = {pmid: [] for pmid in wanted}
        for row in self.iter_findings(pipeline_version):
            if row["pmid"] in by_pmid:
                by_pmid[row["pmid"]].append(row)
        return [row for pmid in wanted for row in by_pmid[pmid]]

    # -- digests -------------------------------------------------------------------

    def mark_interrupted(self, command: str, pipeline: str) -> int:
        """Runs still 'running' belong to killed processes (the caller holds the lock)."""

        def work(c: sqlite3.Connection) -> int:
            cursor = c.execute(
                "UPDATE runs SET status = 'interrupted', finished_at = ?"
                " WHERE command = ? AND pipeline = ? AND status = 'running'",
                (_utcnow(), command, pipeline),
            )
            return int(cursor.rowcount)

        return int(self._transaction(work))

    def undigested_articles(self, topic: str) -> list[dict[str, Any]]:
        """The topic's articles whose current content no digest has covered yet."""
        sql = (
            "SELECT a.* FROM topic_articles t JOIN articles a ON a.pmid = t.pmid"
            " WHERE t.pipeline = ? AND a.deleted = 0"
            " AND (t.digested_hash IS NULL OR t.digested_hash != a.content_hash)"
            " ORDER BY CAST(a.pmid AS INTEGER), a.pmid"
        )
        return [_article_row(row) for row in self.query(sql, (topic,))]

    def articles_changed(
        self, since: str = "", until: str = "9999", after_run: int = 0
    ) -> list[dict[str, Any]]:
        """Articles whose last change (first storage or revision) came from a run that
        started in [since, until] (UTC ISO timestamps) and is newer than ``after_run``."""
        sql = (
            "SELECT a.* FROM articles a JOIN runs r ON r.id = a.last_changed_run"
            " WHERE a.deleted = 0 AND r.started_at >= ? AND r.started_at <= ? AND r.id > ?"
            " ORDER BY CAST(a.pmid AS INTEGER), a.pmid"
        )
        return [_article_row(row) for row in self.query(sql, (since, until, after_run))]

    def retracted_pmids(self) -> set[str]:
        rows = self.query(
            "SELECT pmid FROM articles WHERE publication_types LIKE ?",
            ('%"Retracted Publication"%',),
        )
        return {row[0] for row in rows}

    def reported(self, topic: str, created_until: str | None = None) -> dict[Key, dict[str, Any]]:
        """Keys earlier digests of ``topic`` reported (those created up to ``created_until``),
        each with its entity name, digest day, pipeline version and cited PMIDs."""
        sql = (
            "SELECT r.ev_type, r.category, r.entity_id, r.entity, r.pipeline_version, d.day"
            " FROM reported r JOIN digests d ON d.id = r.digest_id WHERE r.pipeline = ?"
        )
        params: list[Any] = [topic]
        if created_until is not None:
            sql += " AND d.created_at <= ?"
            params.append(created_until)
        found: dict[Key, dict[str, Any]] = {}
        for row in self.query(sql, params):
            key = (row["ev_type"], row["category"], row["entity_id"])
            found[key] = {**dict(row), "pmids": set()}
        support_sql = (
            "SELECT s.ev_type, s.category, s.entity_id, s.pmid FROM reported_support s"
            " JOIN digests d ON d.id = s.digest_id WHERE s.pipeline = ?"
        )
        if created_until is not None:
            support_sql += " AND d.created_at <= ?"
        for row in self.query(support_sql, params):
            entry = found.get((row[0], row[1], row[2]))
            if entry is not None:
                entry["pmids"].add(row[3])
        return found

    def last_digest(self, topic: str) -> DigestRecord | None:
        row = self._conn.execute(
            "SELECT * FROM digests WHERE pipeline = ? ORDER BY id DESC LIMIT 1", (topic,)
        ).fetchone()
        return _digest_row(row) if row else None

    def digest_paths(self) -> set[str]:
        return {row[0] for row in self.query("SELECT path FROM digests")}

    def unwritten_digests(self, topic: str) -> list[DigestRecord]:
        rows = self.query(
            "SELECT * FROM digests WHERE pipeline = ? AND written_at IS NULL ORDER BY id",
            (topic,),
        )
        return [_digest_row(row) for row in rows]

    def mark_digest_written(self, digest_id: int) -> None:
        self._transaction(
            lambda c: c.execute(
                "UPDATE digests SET written_at = ? WHERE id = ?", (_utcnow(), digest_id)
            )
        )

    def commit_digest(
        self,
        run_id: int,
        topic: str,
        *,
        pipeline_version: str,
        day: str,
        path: str,
        markdown: str,
        new_keys: Mapping[Key, str],
        cited: Mapping[Key, Iterable[str]],
        digested: Iterable[tuple[str, str]],
        counts: Mapping[str, int],
        maxdate: str = "",
    ) -> int:
        """Record a digest and everything it settles in one transaction, and mark the run ok.

        ``new_keys`` maps each key reported as new to its entity name; ``cited`` the
        PMIDs cited per key; ``digested`` the (PMID, content hash) pairs it covered;
        ``maxdate`` the entry date the run's fetch reached. A
        run killed before this commit leaves all of it for the next run to do again;
        one killed after it leaves only the file to write (see :meth:`unwritten_digests`).
        """
        digested = list(digested)

        def work(c: sqlite3.Connection) -> int:
            cursor = c.execute(
                "INSERT INTO digests (pipeline, run_id, pipeline_version, day, path, markdown,"
                " counts, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    topic,
                    run_id,
                    pipeline_version,
                    day,
                    path,
                    markdown,
                    json.dumps(dict(counts), sort_keys=True),
                    _utcnow(),
                ),
            )
            digest_id = int(cursor.lastrowid or 0)
            c.executemany(
                "INSERT INTO reported (pipeline, ev_type, category, entity_id, entity, digest_id,"
                " pipeline_version) VALUES (?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (pipeline, ev_type, category, entity_id) DO NOTHING",
                [
                    (topic, *key, entity, digest_id, pipeline_version)
                    for key, entity in new_keys.items()
                ],
            )
            c.executemany(
                "INSERT INTO reported_support (pipeline, ev_type, category, entity_id, pmid,"
                " digest_id) VALUES (?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (pipeline, ev_type, category, entity_id, pmid) DO NOTHING",
                [
                    (topic, *key, pmid, digest_id)
                    for key, pmids in cited.items()
                    for pmid in sorted(pmids)
                ],
            )
            c.executemany(
                "UPDATE topic_articles SET digested_hash = ?, digest_id = ?"
                " WHERE pipeline = ? AND pmid = ?",
                [(content_hash, digest_id, topic, pmid) for pmid, content_hash in digested],
            )
            _finish_run(c, run_id, "ok", counts, "", maxdate or None)
            return digest_id

        return int(self._transaction(work))

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        """Read-only access for the diff and digest stages."""
        try:
            return list(self._conn.execute(sql, params))
        except sqlite3.Error as exc:
            raise _store_error(self.path, exc) from None


def _finish_run(
    c: sqlite3.Connection,
    run_id: int,
    status: str,
    counts: Mapping[str, int] | None,
    error: str,
    maxdate: str | None,
) -> None:
    c.execute(
        "UPDATE runs SET status = ?, finished_at = ?, counts = ?, error = ? WHERE id = ?",
        (status, _utcnow(), json.dumps(dict(counts or {}), sort_keys=True), error, run_id),
    )
    if maxdate is not None:
        c.execute("UPDATE runs SET maxdate = ? WHERE id = ?", (maxdate, run_id))


def _digest_row(row: sqlite3.Row) -> DigestRecord:
    data = dict(row)
    data["counts"] = json.loads(data["counts"])
    data["written_at"] = data["written_at"] or ""
    return DigestRecord(**data)


def _split_sql(script: str) -> list[str]:
    # Statements are kept simple (no semicolons inside literals) so a plain split is safe.
    statements = []
    for chunk in script.split(";"):
        lines = [line for line in chunk.splitlines() if not line.strip().startswith("--")]
        statement = "\n".join(lines).strip()
        if statement:
            statements.append(statement)
    return statements


def _upsert_article(
    c: sqlite3.Connection,
    article: Article,
    run_id: int,
    content_hash: str,
    source_file: int | None,
) -> str:
    row = c.execute(
        "SELECT content_hash, deleted FROM articles WHERE pmid = ?", (article.pmid,)
    ).fetchone()
    if row is not None and row[0] == content_hash and not row[1]:
        if source_file is not None:  # the content is this file's too
            _set_source_file(c, article.pmid, source_file)
        return "unchanged"
    values = (
        article.version,
        article.title,
        article.abstract,
        json.dumps([asdict(s) for s in article.abstract_sections], ensure_ascii=False),
        article.journal,
        article.pub_date.year,
        article.pub_date.month,
        article.pub_date.day,
        article.pub_date.raw,
        article.doi,
        article.pmcid,
        json.dumps(list(article.mesh_headings), ensure_ascii=False),
        json.dumps(list(article.publication_types), ensure_ascii=False),
        article.language,
        int(article.is_book),
        content_hash,
    )
    if row is None:
        c.execute(
            "INSERT INTO articles (version, title, abstract, sections, journal, pub_year,"
            " pub_month, pub_day, pub_date_raw, doi, pmcid, mesh, publication_types, language,"
            " is_book, content_hash, pmid, first_run, last_changed_run)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (*values, article.pmid, run_id, run_id),
        )
        _set_source_file(c, article.pmid, source_file)
        return "new"
    c.execute(
        "UPDATE articles SET version = ?, title = ?, abstract = ?, sections = ?, journal = ?,"
        " pub_year = ?, pub_month = ?, pub_day = ?, pub_date_raw = ?, doi = ?, pmcid = ?,"
        " mesh = ?, publication_types = ?, language = ?, is_book = ?, content_hash = ?,"
        " deleted = 0, revised = 1, last_changed_run = ? WHERE pmid = ?",
        (*values, run_id, article.pmid),
    )
    _set_source_file(c, article.pmid, source_file)
    return "updated"


def _set_source_file(c: sqlite3.Connection, pmid: str, file_id: int | None) -> None:
    """Which ingested file the article's current content is from (None: not from a file)."""
    if file_id is None:
        c.execute("DELETE FROM article_files WHERE pmid = ?", (pmid,))
        return
    c.execute(
        "INSERT INTO article_files (pmid, file_id) VALUES (?, ?)"
        " ON CONFLICT (pmid) DO UPDATE SET file_id = excluded.file_id"
        " WHERE file_id != excluded.file_id",
        (pmid, file_id),
    )


def _replace_findings(
    c: sqlite3.Connection,
    pmid: str,
    findings: Sequence[Finding],
    pipeline_version: str,
    run_id: int,
) -> int:
    c.execute(
        "DELETE FROM findings WHERE pmid = ? AND pipeline_version = ?", (pmid, pipeline_version)
    )
    c.executemany(
        "INSERT INTO findings (pmid, pipeline_version, ev_type, category, entity, entity_id,"
        " predicate, negated, speculative, evidence, sentence_index, start_char, end_char,"
        " unlisted, size_min_nm, size_max_nm, run_id)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                pmid,
                pipeline_version,
                f.ev_type,
                f.category,
                f.entity,
                f.entity_id,
                f.predicate,
                int(f.negated),
                int(f.speculative),
                f.evidence,
                f.sentence_index,
                f.start_char,
                f.end_char,
                int(f.unlisted),
                f.size_min_nm,
                f.size_max_nm,
                run_id,
            )
            for f in findings
        ],
    )
    content_hash = c.execute("SELECT content_hash FROM articles WHERE pmid = ?", (pmid,)).fetchone()
    if content_hash is not None:
        c.execute(
            "INSERT INTO extractions (pmid, pipeline_version, content_hash, run_id)"
            " VALUES (?, ?, ?, ?) ON CONFLICT (pmid, pipeline_version)"
            " DO UPDATE SET content_hash = excluded.content_hash, run_id = excluded.run_id",
            (pmid, pipeline_version, content_hash[0], run_id),
        )
    return len(findings)


def _run_row(row: sqlite3.Row) -> dict[str, Any]:
    data = dict(row)
    for key in ("warnings", "counts", "versions"):
        data[key] = json.loads(data[key])
    return data


def _article_row(row: sqlite3.Row) -> dict[str, Any]:
    data = dict(row)
    for key in ("sections", "mesh", "publication_types"):
        data[key] = json.loads(data[key])
    data["pub_date"] = PubDate(data["pub_year"], data["pub_month"], data["pub_day"]).iso()
    data["year"] = data["pub_year"]
    return data


def article_from_row(data: Mapping[str, Any]) -> Article:
    """Rebuild the typed record from a stored row (for re-extraction from the store)."""
    return Article(
        pmid=data["pmid"],
        version=data["version"],
        title=data["title"],
        abstract_sections=tuple(AbstractSection(**s) for s in data["sections"]),
        journal=data["journal"],
        pub_date=PubDate(
            data["pub_year"], data["pub_month"], data["pub_day"], data["pub_date_raw"]
        ),
        doi=data["doi"],
        pmcid=data["pmcid"],
        mesh_headings=tuple(data["mesh"]),
        publication_types=tuple(data["publication_types"]),
        language=data["language"],
        is_book=bool(data["is_book"]),
    )


def finding_from_row(row: Mapping[str, Any]) -> Finding:
    """The typed finding of a row from :meth:`Store.iter_findings`."""
    return Finding(**{name: row[name] for name in Finding.__dataclass_fields__ if name in row})


def _finding_flags(row: sqlite3.Row) -> dict[str, Any]:
    data = dict(row)
    for key in ("negated", "speculative", "unlisted"):
        data[key] = bool(data[key])
    return data


def _finding_row(row: sqlite3.Row) -> dict[str, Any]:
    data = _finding_flags(row)
    data["pub_date"] = PubDate(
        data.pop("pub_year"), data.pop("pub_month"), data.pop("pub_day")
    ).iso()
    data["publication_types"] = json.loads(data["publication_types"])
    return data

"""When things go wrong: network faults, kills, two runs at once, bad input, secrets, hostile text.

Each test proves one guarantee of README's "When things go wrong". In-process runs call
``minemig.cli.main``; the kill and lock tests run ``python -m minemig`` as cron does, against
the loopback E-utilities server of ``eutils_server.py``. Stores are compared table by table,
leaving out only what differs between equivalent runs by nature (row and run ids, timestamps,
the counts a run keeps of its own work, the folder a digest was written to).
"""

from __future__ import annotations

import ast
import contextlib
import gzip
import html.parser
import json
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import quote, quote_plus
from xml.sax.saxutils import escape

import pytest
from cli_runner import Result, Run, run_cli, share_readers
from eutils_server import EutilsServer, Fault
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pubmed_xml import Raw, Record, article_set, article_xml, write_article_set

from minemig import fetch, parse
from minemig.errors import ParseError
from minemig.lock import UpdateLock, lock_path_for
from minemig.models import Article, Deletion, SkippedRecord
from minemig.sizes import find_sizes
from minemig.topic import BUNDLED_PIPELINES, load_topic

REPO = Path(__file__).resolve().parent.parent
# Characters that URL encoding changes, so a leak in any encoding is caught.
API_KEY = "hardening-k3y/+secret=&value"
KEY_FORMS = (API_KEY, quote_plus(API_KEY), quote(API_KEY, safe=""))
READ_TIMEOUT = 0.5  # the client's read timeout in-process; a "slow" answer takes longer
SLOW = 1.5
MAX_TRIES = 6  # the client's default

# Columns that differ between equivalent runs by nature; everything else must be equal.
VOLATILE = frozenset(
    {"id", "run_id", "first_run", "last_changed_run", "digest_id", "created_at", "written_at"}
    | {"counts"}  # a digest keeps its run's tally: "new" there is "unchanged" after a kill
)
TABLES = (
    "articles",
    "findings",
    "extractions",
    "digests",
    "topic_articles",
    "reported",
    "reported_support",
)

# -- the corpus -----------------------------------------------------------------------------

CORPUS = (
    Record(
        "38200101",
        title="Migrasome markers in murine fibroblasts.",
        abstract="TSPAN4-positive migrasomes were enriched in PLD1 in L929 cells.",
        journal="Cell Research",
        pub_date="2024-01-15",
        entrez_date=date(2024, 1, 16),
    ),
    Record(
        "38200102",
        title="Migrasomes of neutrophils.",
        abstract="Neutrophil-derived migrasomes promote angiogenesis.",
        journal="Blood",
        pub_date="2024-02-10",
        entrez_date=date(2024, 2, 11),
    ),
    Record(
        "38200103",
        title="How migrasomes form.",
        abstract="Migrasome formation requires sphingomyelin synthase 2.",
        journal="Nature Cell Biology",
        pub_date="2024-02-20",
        entrez_date=date(2024, 2, 21),
    ),
    Record(
        "38200104",
        title="Giant migrasomes.",
        abstract="Migrasomes ranged from 5 to 8 µm in diameter.",
        journal="Cell Reports",
        pub_date="2024-05-02",
        entrez_date=date(2024, 5, 3),
    ),
    Record(
        "38200105",
        title="Migrasome composition revisited.",
        abstract="TSPAN4 was not enriched in migrasomes of macrophages.",
        journal="Immunity",
        pub_date="2024-05-20",
        entrez_date=date(2024, 5, 21),
    ),
    Record(
        "38200106",
        title="Migrasomes carry CXCL12 in zebrafish gastrulas.",
        abstract="Migrasomes carry CXCL12 and were detected by electron microscopy.",
        journal="Developmental Cell",
        pub_date="2024-06-03",
        entrez_date=date(2024, 6, 4),
    ),
)
PMIDS = sorted(r.pmid for r in CORPUS)
SENTENCES = (
    "TSPAN4-positive migrasomes were enriched in PLD1 in L929 cells.",
    "Migrasomes carry CXCL12 and were detected by electron microscopy.",
    "Neutrophil-derived migrasomes promote angiogenesis.",
    "Migrasomes ranged from 5 to 8 µm in diameter.",
    "TSPAN4 was not enriched in migrasomes of macrophages.",
    "Migrasome formation requires sphingomyelin synthase 2.",
)


def bulk_corpus(count: int) -> list[Record]:
    """``count`` migrasome papers with findings, entered over 2024."""
    return [
        Record(
            str(38300000 + i),
            title=f"Migrasomes in model {i}.",
            abstract=" ".join(
                [SENTENCES[i % 6], SENTENCES[(i * 5 + 1) % 6], f"Sample {i} was imaged."]
            ),
            journal="Journal of Migrasome Studies",
            pub_date=f"2024-{i % 12 + 1:02d}",
            entrez_date=date(2024, 1, 1) + timedelta(days=i % 300),
        )
        for i in range(count)
    ]


# -- helpers --------------------------------------------------------------------------------


def one_error_line(result: Result, code: int = 1) -> str:
    """A failure as cron sees it: the exit status, one ``Error:`` line, no traceback."""
    assert result.code == code, result
    assert len(result.err_lines) == 1, result.err
    line = result.err_lines[0]
    assert line.startswith("Error: "), line
    return line


def no_key(*texts: str) -> None:
    for text in texts:
        for form in KEY_FORMS:
            assert form not in text, f"the API key appears: {text!r}"


def snapshot(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    """The store's content without the columns in VOLATILE; a digest's path as its file name.
    Rows are sorted but not deduplicated, so a row stored twice shows."""
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        present = {r[0] for r in connection.execute("SELECT name FROM sqlite_master")}
        content: dict[str, list[tuple[Any, ...]]] = {}
        for table in TABLES:
            if table not in present:
                content[table] = []
                continue
            cursor = connection.execute(f"SELECT * FROM {table}")
            names = [d[0] for d in cursor.description]
            rows = []
            for row in cursor:
                values = dict(zip(names, row, strict=True))
                if "path" in values:
                    values["path"] = Path(values["path"]).name
                rows.append(tuple(sorted((k, v) for k, v in values.items() if k not in VOLATILE)))
            content[table] = sorted(rows, key=repr)
        return content
    finally:
        connection.close()


def stored(db: Path, sql: str) -> list[tuple[Any, ...]]:
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return list(connection.execute(sql))
    finally:
        connection.close()


def pmids_of(content: dict[str, list[tuple[Any, ...]]]) -> list[str]:
    return sorted(dict(row)["pmid"] for row in content["articles"])


def rows_of(content: dict[str, list[tuple[Any, ...]]], table: str, pmid: str) -> list[Any]:
    return [row for row in content[table] if dict(row).get("pmid") == pmid]


def assert_only_whole_articles(
    partial: dict[str, list[tuple[Any, ...]]], whole: dict[str, list[tuple[Any, ...]]]
) -> None:
    """Every article the partial store holds is exactly as the whole store holds it, with
    exactly its findings: a failed run may leave articles out, never half an article."""
    assert set(pmids_of(partial)) <= set(pmids_of(whole))
    for pmid in pmids_of(partial):
        for table in ("articles", "findings", "extractions"):
            assert rows_of(partial, table, pmid) == rows_of(whole, table, pmid), (table, pmid)


def folder_files(folder: Path) -> dict[str, str]:
    """Every file of a folder (temporary ones included) with its text."""
    if not folder.exists():
        return {}
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(folder.iterdir())}


def pipeline_file(
    tmp_path: Path, *, batch_size: int = 2, gazetteers: Path | None = None, name: str = "topic"
) -> Path:
    """The bundled migrasome pipeline with absolute paths and a chosen batch size."""
    text = (BUNDLED_PIPELINES / "migrasome.toml").read_text(encoding="utf-8")
    text = text.replace(
        'directory = "../gazetteers"',
        f"directory = {str(gazetteers or BUNDLED_PIPELINES.parent / 'gazetteers')!r}",
    )
    text = text.replace('claims = "baselines/', f'claims = "{BUNDLED_PIPELINES}/baselines/')
    text = re.sub(r"(?m)^batch_size = \d+$", f"batch_size = {batch_size}", text)
    path = tmp_path / "pipelines" / f"{name}.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# -- in-process fixtures --------------------------------------------------------------------


@pytest.fixture(autouse=True)
def environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing outside tmp_path, nothing from the user's environment, never the real NCBI."""
    monkeypatch.setenv("MINEMIG_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MINEMIG_DB", str(tmp_path / "store.sqlite"))
    monkeypatch.setenv("MINEMIG_EUTILS_URL", "http://127.0.0.1:9/entrez/eutils/")
    monkeypatch.setenv("NCBI_EMAIL", "tests@example.org")
    monkeypatch.setenv("NCBI_API_KEY", API_KEY)
    for name in ("MINEMIG_PIPELINES_DIR", "MINEMIG_SCISPACY_MODEL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    share_readers(monkeypatch)


@pytest.fixture(autouse=True)
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Backoff recorded instead of slept; a short read timeout; no rate limit for loopback."""
    recorded: list[float] = []

    class Client(fetch.EutilsClient):
        def __init__(self, settings: Any, **options: Any) -> None:
            options.setdefault("requests_per_second", 1000.0)
            options.setdefault("timeout", (2.0, READ_TIMEOUT))
            options.setdefault("sleep", recorded.append)
            super().__init__(settings, **options)

    monkeypatch.setattr(fetch, "EutilsClient", Client)
    return recorded


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Run:
    """``minemig ARGS...`` in-process: exit status, stdout, stderr."""
    return lambda *args: run_cli(capsys, *args)


@pytest.fixture
def server(eutils_server: EutilsServer) -> EutilsServer:
    eutils_server.matcher = lambda term, record: "migrasom" in record.text
    eutils_server.add(*CORPUS)
    return eutils_server


@pytest.fixture
def pipeline(tmp_path: Path) -> Path:
    return pipeline_file(tmp_path)


@dataclass(frozen=True)
class Outcome:
    content: dict[str, list[tuple[Any, ...]]]
    files: dict[str, str]


_REFERENCES: dict[str, Outcome] = {}


@pytest.fixture
def command(run: Run, pipeline: Path, tmp_path: Path) -> Callable[..., Result]:
    """``update`` or ``search`` of the corpus, in batches of two, into a database of choice."""

    def invoke(name: str, *more: str | Path, db: Path | None = None) -> Result:
        db = db or tmp_path / "store.sqlite"
        if name == "update":
            folder = db.with_name(db.stem + "-digests")
            return run("update", "--pipeline", pipeline, "--db", db, "--digest-dir", folder, *more)
        return run("search", "migrasome", "--pipeline", pipeline, "--db", db, *more)

    return invoke


def outcome(db: Path) -> Outcome:
    return Outcome(snapshot(db), folder_files(db.with_name(db.stem + "-digests")))


@pytest.fixture
def reference(command: Callable[..., Result], tmp_path: Path) -> Callable[[str], Outcome]:
    """What one uninterrupted, fault-free run of a command leaves (computed once)."""

    def get(name: str) -> Outcome:
        if name not in _REFERENCES:
            db = tmp_path / f"reference-{name}.sqlite"
            result = command(name, db=db)
            assert result.code == 0, result
            _REFERENCES[name] = outcome(db)
            assert pmids_of(_REFERENCES[name].content) == PMIDS
        return _REFERENCES[name]

    return get


# -- network faults -------------------------------------------------------------------------

# Each served once (a storm: several times), then normal service resumes.
TRANSIENT: dict[str, list[Fault]] = {
    "429 storm": [Fault.status(429, retry_after=2)] * (MAX_TRIES - 2),
    "HTTP 500": [Fault.status(500)] * 2,
    "HTTP 502": [Fault.status(502)],
    "HTTP 503": [Fault.status(503, retry_after=1)],
    "connection reset": [Fault.reset()] * 2,
    "timeout": [Fault.slow(SLOW)],
    "body cut mid-XML": [Fault.truncated()],
    "body cut, honest length": [Fault.truncated(honest_length=True)],
    "empty 200": [Fault.empty()],
    "rate limit in a 200": [Fault.json_rate_limit(retry_after=1)],
}
ON_ESEARCH = ("HTTP 500", "connection reset", "timeout", "body cut mid-XML", "empty 200")
CASES = [
    *(("update", "efetch", kind) for kind in TRANSIENT),
    *(("update", "esearch", kind) for kind in ON_ESEARCH),
    # search fetches with the same client: its own wiring, on a few
    *(("search", "efetch", kind) for kind in ("429 storm", "connection reset", "body cut mid-XML")),
    *(("search", "esearch", kind) for kind in ("HTTP 500", "timeout", "empty 200")),
]


def inject(server: EutilsServer, endpoint: str, faults: list[Fault]) -> None:
    """On efetch, the faults meet the second batch: the run is part-way when they come."""
    if endpoint == "efetch":
        server.inject("efetch", Fault.slow(0))
    server.inject(endpoint, *faults)


@pytest.mark.parametrize(("name", "endpoint", "kind"), CASES, ids=["-".join(c) for c in CASES])
def test_a_transient_fault_is_retried_and_the_run_completes(
    server: EutilsServer,
    command: Callable[..., Result],
    reference: Callable[[str], Outcome],
    sleeps: list[float],
    tmp_path: Path,
    name: str,
    endpoint: str,
    kind: str,
) -> None:
    expected = reference(name)
    sleeps.clear()
    inject(server, endpoint, TRANSIENT[kind])

    result = command(name)

    assert result.code == 0, result
    assert server.pending(endpoint) == 0  # every fault was met
    assert "Error" not in result.err
    if name == "update":
        assert result.err == ""  # retries that succeed are no news for cron
    no_key(result.out, result.err)
    assert outcome(tmp_path / "store.sqlite") == expected
    assert 1 <= len(sleeps) <= MAX_TRIES - 1 and max(sleeps) <= 60
    for retry_after in {f.retry_after for f in TRANSIENT[kind] if f.retry_after}:
        assert float(retry_after) in sleeps  # Retry-After honoured


PERSISTENT = ["429 storm", "HTTP 500", "HTTP 503", "connection reset", "empty 200"]
PERSISTENT += ["body cut mid-XML", "rate limit in a 200"]  # a timeout costs the most: not here


@pytest.mark.parametrize(
    ("name", "kind"),
    [("update", kind) for kind in PERSISTENT]
    + [("search", kind) for kind in ("HTTP 502", "connection reset", "body cut, honest length")],
)
def test_a_persistent_fault_fails_in_one_line_and_the_next_run_completes(
    server: EutilsServer,
    command: Callable[..., Result],
    reference: Callable[[str], Outcome],
    tmp_path: Path,
    name: str,
    kind: str,
) -> None:
    expected = reference(name)
    inject(server, "efetch", [TRANSIENT[kind][0]] * MAX_TRIES)

    failed = command(name)

    line = one_error_line(failed)
    assert line.startswith("Error: [M300] efetch (") and f"gave up after {MAX_TRIES} tries" in line
    assert failed.out == ""
    no_key(failed.out, failed.err)
    db = tmp_path / "store.sqlite"
    partial = outcome(db)
    assert pmids_of(partial.content) == PMIDS[-2:]  # the first batch: the newest two
    assert_only_whole_articles(partial.content, expected.content)
    assert partial.content["digests"] == [] and partial.files == {}
    assert stored(db, "SELECT status FROM runs") == [("failed",)]

    again = command(name)

    assert again.code == 0, again
    assert outcome(db) == expected


@pytest.mark.parametrize(
    "kind", ["error document in a 200", "history expired twice", "history expired, result grew"]
)
def test_a_fault_that_is_not_retried_fails_and_the_next_run_fetches_everything(
    server: EutilsServer,
    command: Callable[..., Result],
    tmp_path: Path,
    kind: str,
) -> None:
    if kind == "error document in a 200":
        inject(server, "efetch", [Fault.error_in_200("Cannot process the request")])
    elif kind == "history expired twice":
        inject(server, "efetch", [Fault.expired_history()] * 2)
    else:  # the renewed search finds one more record, so every position moved by one
        server.add(
            Record(
                "38200199",
                title="Migrasomes, entered while the run was fetching.",
                abstract="Migrasomes carry CXCL12.",
                entrez_date=date(2024, 7, 1),
            )
        )

        def matcher(term: str, record: Any) -> bool:
            first = len(server.requests("esearch")) == 1
            return "migrasom" in record.text and (not first or record.pmid in PMIDS)

        server.matcher = matcher
        inject(server, "efetch", [Fault.expired_history()])
    db = tmp_path / "store.sqlite"

    result = command("update")

    if result.code == 0:  # acceptable only if nothing was lost on the way
        assert set(PMIDS) <= set(pmids_of(snapshot(db)))
    else:
        line = one_error_line(result)
        assert line.startswith("Error: [M300]")
    again = command("update")
    assert again.code == 0, again
    everything = set(server.pmids)
    assert set(pmids_of(snapshot(db))) == everything
    papers = [
        pmid
        for text in outcome(db).files.values()
        for pmid in re.findall(r"\[PMID (\d+)\]", text.split("\n## Papers\n")[-1])
    ]
    assert sorted(papers) == sorted(everything)  # each paper in one digest, once


def test_a_syntactically_invalid_query_is_refused_in_one_line(
    server: EutilsServer, run: Run, pipeline: Path, tmp_path: Path
) -> None:
    db = tmp_path / "store.sqlite"
    assert run("search", "migrasome", "--pipeline", pipeline).code == 0
    before = snapshot(db)
    server.inject("esearch", Fault.error_in_200("Query syntax error: unmatched parenthesis"))

    result = run("search", "migrasome AND (neutrophil", "--pipeline", pipeline)

    line = one_error_line(result, code=2)
    assert "PubMed cannot run this query" in line and "unmatched parenthesis" in line
    assert snapshot(db) == before


# -- SIGKILL at random points ---------------------------------------------------------------

KILLS = 8  # per command, each at a random point
BULK = 200
UPDATE_BATCH = 40


def minemig_env(server: EutilsServer, tmp_path: Path) -> dict[str, str]:
    """The environment cron gives ``python -m minemig``: the loopback server, a key, tmp_path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MINEMIG_", "NCBI_"))}
    env.update(
        PYTHONPATH=str(REPO),
        MINEMIG_EUTILS_URL=server.url,
        MINEMIG_DATA_DIR=str(tmp_path / "data"),
        NCBI_API_KEY=API_KEY,
        NCBI_EMAIL="tests@example.org",
        NO_PROXY="127.0.0.1",
        no_proxy="127.0.0.1",
    )
    return env


def spawn(
    args: list[str], env: dict[str, str], cwd: Path, stderr: int = subprocess.PIPE
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "minemig", *args],
        env=env,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=stderr,
    )


def run_count(db: Path) -> int:
    """Runs recorded so far, read as a concurrent ``minemig export`` would; 0 before the store."""
    if not db.exists():
        return 0
    try:
        return int(stored(db, "SELECT COUNT(*) FROM runs")[0][0])
    except sqlite3.Error:
        return 0


def wait_for(condition: Callable[[], bool], process: subprocess.Popen[bytes], limit: float) -> None:
    deadline = time.monotonic() + limit
    while not condition() and process.poll() is None:
        assert time.monotonic() < deadline, "the run did not start its work in time"
        time.sleep(0.01)


def finish(args: list[str], env: dict[str, str], cwd: Path, db: Path) -> float:
    """Run to the end; returns how long the run took to record itself (its start-up)."""
    before = run_count(db)
    started = time.monotonic()
    process = spawn(args, env, cwd)
    wait_for(lambda: run_count(db) > before, process, 60)
    startup = time.monotonic() - started
    _, err = process.communicate(timeout=120)
    assert (process.returncode, err) == (0, b""), err
    return startup


def article_count(db: Path) -> int:
    try:
        return int(stored(db, "SELECT COUNT(*) FROM articles")[0][0])
    except sqlite3.Error:
        return 0


def kill_repeatedly(
    args: list[str],
    env: dict[str, str],
    cwd: Path,
    db: Path,
    rng: random.Random,
    *,
    startup: float,
    progress: Callable[[], int],
    span: Callable[[int], int],
    linger: float,
) -> int:
    """KILLS runs, each SIGKILLed at a random point. Most die when ``progress`` (efetch
    requests, articles stored) has grown by a random amount up to ``span(now)``, then up to
    ``linger`` seconds later: inside the next batch, or the digest and its file. Every
    fourth dies after a random part of the start-up (imports, the lock, migrations). Returns
    how many were still running."""
    killed = 0
    for i in range(KILLS):
        runs, now = run_count(db), progress()
        process = spawn(args, env, cwd)
        if i % 4 == 3:
            time.sleep(rng.uniform(0, startup))
        else:
            # The first kill lands right as work begins, so every series has a run that died
            # mid-way whatever the random draws; the others land anywhere.
            target = now + (1 if i == 0 else rng.randint(0, span(now)))
            wait_for(
                lambda runs=runs, target=target: run_count(db) > runs and progress() >= target,
                process,
                60,
            )
            time.sleep(0 if i == 0 else rng.uniform(0, linger))
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            killed += 1
        process.communicate(timeout=60)
    return killed


@pytest.fixture
def bulk_server(eutils_server: EutilsServer) -> EutilsServer:
    eutils_server.matcher = lambda term, record: "migrasom" in record.text
    for record in bulk_corpus(BULK):
        eutils_server.add_fragment(
            record.pmid, record.entrez_date, article_xml(record), record.text
        )
    return eutils_server


@dataclass(frozen=True)
class KillReport:
    seed: int
    killed: int
    statuses: list[str]
    killed_store: Path
    reference_store: Path


def kill_series(name: str, server: EutilsServer, folder: Path, seed: int) -> KillReport:
    """One uninterrupted run into a reference store; then KILLS runs killed at random points
    and one clean run into another store."""
    folder.mkdir()
    env = minemig_env(server, folder)
    if name == "update":
        pipeline = pipeline_file(folder, batch_size=UPDATE_BATCH)

        def args(db: Path) -> list[str]:
            digests = str(db.with_name(db.stem + "-digests"))
            return ["update", "--pipeline", str(pipeline), "--db", str(db), "--digest-dir", digests]

    else:  # several files, so a run commits many batches
        inputs = folder / "inputs"
        inputs.mkdir()
        records = bulk_corpus(BULK)
        for n, start in enumerate(range(0, BULK, 25)):
            write_article_set(inputs / f"part-{n}.xml", records[start : start + 25])

        def args(db: Path) -> list[str]:
            return ["ingest", str(inputs), "--db", str(db)]

    reference_db, db = folder / "reference.sqlite", folder / "killed.sqlite"
    startup = finish(args(reference_db), env, folder, reference_db)
    if name == "update":  # any point of the fetch, up to and past its last batch
        # Each batch takes a moment, as from NCBI: a rerun of stored records is otherwise so
        # quick that most kills would find it finished.
        server.inject("efetch", *[Fault.slow(0.15)] * (KILLS + 2) * (BULK // UPDATE_BATCH + 2))
        progress = lambda: len(server.requests("efetch"))  # noqa: E731
        span, linger = (lambda now: BULK // UPDATE_BATCH), 0.3
    else:  # half of what is left at most, so that several runs die inside the first pass
        progress = lambda: article_count(db)  # noqa: E731
        span, linger = (lambda now: (BULK - now) // 2), 0.05  # a batch takes about 0.1 s
    killed = kill_repeatedly(
        args(db),
        env,
        folder,
        db,
        random.Random(seed),
        startup=startup,
        progress=progress,
        span=span,
        linger=linger,
    )
    finish(args(db), env, folder, db)
    statuses = [row[0] for row in stored(db, "SELECT status FROM runs")]
    return KillReport(seed, killed, statuses, db, reference_db)


def assert_same_outcome(got: Outcome, expected: Outcome, why: str) -> None:
    assert pmids_of(got.content) == pmids_of(expected.content), why
    for table in TABLES:
        assert got.content[table] == expected.content[table], f"{table}: {why}"
    assert got.files == expected.files, why


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_update_and_ingest_killed_at_random_points_are_finished_by_one_clean_run(
    bulk_server: EutilsServer, tmp_path: Path
) -> None:
    """Both series run side by side (each in its own stores), which halves the wait."""
    seeds = {name: random.SystemRandom().randrange(2**32) for name in ("update", "ingest")}
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {
            name: pool.submit(kill_series, name, bulk_server, tmp_path / name, seed)
            for name, seed in seeds.items()
        }
        reports = {name: future.result() for name, future in futures.items()}

    for name, report in reports.items():
        why = f"{name}: random seed {report.seed}, {report.killed} of {KILLS} runs killed"
        # How many runs a kill still finds alive depends on the machine's speed (a rerun
        # of stored records is quick); the test keeps its power while some die mid-run.
        assert report.killed >= 2, why
        assert {"running", "interrupted"} & set(report.statuses), why  # some died mid-run
        got, expected = outcome(report.killed_store), outcome(report.reference_store)
        assert_same_outcome(got, expected, why)
        assert len(pmids_of(got.content)) == BULK
        if name == "update":
            assert len(got.content["digests"]) == 1 and len(got.files) == 1, why


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has ended; only its parent's bookkeeping is left


def processes_in(folder: Path) -> dict[int, str]:
    """Live processes working in ``folder``: whatever a run started there, orphans included."""
    found = {}
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError, ValueError):
            if Path(os.readlink(entry / "cwd")) == folder and alive(int(entry.name)):
                command_line = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
                found[int(entry.name)] = command_line.decode(errors="replace")
    return found


@pytest.mark.skipif(not Path("/proc/self/cwd").exists(), reason="follows processes in /proc")
def test_reading_workers_end_with_a_killed_run(tmp_path: Path) -> None:
    """A cron run killed while worker processes read for it leaves no process behind."""
    inputs, cron = tmp_path / "inputs", tmp_path / "cron"
    inputs.mkdir()
    cron.mkdir()
    records = bulk_corpus(BULK)
    for n, start in enumerate(range(0, BULK, 50)):
        write_article_set(inputs / f"part-{n}.xml", records[start : start + 50])
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    args = ["ingest", str(inputs), "--workers", "2", "--db", str(tmp_path / "store.sqlite")]
    # Not a pipe: a process that outlived the run would hold it open.
    process = spawn(args, env, cron, subprocess.DEVNULL)
    try:

        def reading() -> bool:
            return sum("spawn_main" in line for line in processes_in(cron).values()) >= 2

        wait_for(reading, process, 60)
        assert process.poll() is None, "the run ended before its workers started"
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
        deadline = time.monotonic() + 10
        while processes_in(cron) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert processes_in(cron) == {}, "processes outlived the killed run"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for pid in processes_in(cron):  # started by this test's run
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)


# -- two updates at once --------------------------------------------------------------------


def test_a_second_update_refuses_and_a_killed_holders_lock_is_taken_over(
    server: EutilsServer,
    command: Callable[..., Result],
    reference: Callable[[str], Outcome],
    pipeline: Path,
    tmp_path: Path,
) -> None:
    expected = reference("update")
    server.clear_log()
    db = tmp_path / "store.sqlite"
    lock = lock_path_for(db)
    server.inject("esearch", Fault.slow(30))  # the first run waits on its search, holding the lock
    args = ["update", "--pipeline", str(pipeline), "--db", str(db)]
    holder = spawn(
        [*args, "--digest-dir", str(tmp_path / "store-digests")],
        minemig_env(server, tmp_path),
        tmp_path,
    )
    try:
        wait_for(lambda: len(server.requests("esearch")) == 1, holder, 60)

        refused = command("update")

        line = one_error_line(refused)
        assert line.startswith("Error: [M510] another minemig update is running on this database")
        assert f"PID {holder.pid}," in line and str(lock) in line
        assert len(server.requests()) == 1  # the refused run asked PubMed nothing
        holder.send_signal(signal.SIGKILL)
        holder.communicate(timeout=60)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.communicate()
    assert lock.read_text().startswith(f"PID {holder.pid},")  # the killed holder's note

    finished = command("update")

    assert (finished.code, finished.err) == (0, ""), finished
    assert lock.read_text() == ""  # taken over, then released
    assert [row[0] for row in stored(db, "SELECT status FROM runs ORDER BY id")] == [
        "interrupted",
        "ok",
    ]
    assert_same_outcome(outcome(db), expected, "after a killed holder")


# -- bad input ------------------------------------------------------------------------------


_EXISTING: dict[str, Any] = {}


@pytest.fixture
def existing(run: Run, tmp_path: Path) -> Callable[[], None]:
    """A store holding three articles and their findings (made once, copied for each test);
    returns the check that it still holds exactly them, tables and exports alike."""
    db = tmp_path / "store.sqlite"
    good = write_article_set(tmp_path / "good.xml", CORPUS[:3])
    if not _EXISTING:
        assert run("ingest", good).code == 0
        _EXISTING["bytes"] = db.read_bytes()  # closed, so whole: no WAL beside it
        _EXISTING["exports"] = [run("export", what).out for what in ("articles", "findings")]
    else:
        db.write_bytes(_EXISTING["bytes"])
    before = snapshot(db)
    assert len(before["findings"]) > 3

    def unchanged() -> None:
        assert snapshot(db) == before
        assert [run("export", what).out for what in ("articles", "findings")] == _EXISTING[
            "exports"
        ]

    return unchanged


def document_with(
    prolog: str = "", body: str = "A title.", declaration: str = '<?xml version="1.0"?>'
) -> bytes:
    record = article_xml(Record("38200190", title=Raw(body)))
    return f"{declaration}\n{prolog}\n<PubmedArticleSet>{record}</PubmedArticleSet>\n".encode()


BAD_FILES: dict[str, tuple[Callable[[], bytes], str]] = {
    "external entity": (
        lambda: document_with(
            '<!DOCTYPE PubmedArticleSet [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>', "&xxe;"
        ),
        "refused: the DTD declares entity 'xxe'",
    ),
    "parameter entity": (
        lambda: document_with(
            '<!DOCTYPE PubmedArticleSet [<!ENTITY % dtd SYSTEM "http://127.0.0.1:9/x.dtd"> %dtd;]>'
        ),
        "refused: the DTD declares entity 'dtd'",
    ),
    "external DTD subset": (
        lambda: document_with(
            '<!DOCTYPE PubmedArticleSet SYSTEM "http://127.0.0.1:9/x.dtd">', "&xxe;"
        ),
        "undefined entity",
    ),
    "quadratic entity": (
        lambda: document_with(
            f'<!DOCTYPE PubmedArticleSet [<!ENTITY a "{"x" * 10000}">]>', "&a;" * 1000
        ),
        "refused: the DTD declares entity 'a'",
    ),
    "unknown encoding": (
        lambda: document_with(declaration='<?xml version="1.0" encoding="x-no-such"?>'),
        "x-no-such",
    ),
    "multi-byte encoding": (
        lambda: document_with(declaration='<?xml version="1.0" encoding="Shift_JIS"?>'),
        "encoding",
    ),
    "encoding that lies": (
        lambda: document_with(declaration='<?xml version="1.0" encoding="UTF-16"?>'),
        "not XML",
    ),
    "empty file": (lambda: b"", "empty file"),
    "binary junk": (lambda: random.Random(6).randbytes(4096), "not XML"),
    "HTML error page": (
        lambda: b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>",
        "not PubMed XML: the root element is <html>",
    ),
    "gzip cut short": (
        lambda: gzip.compress(article_set(CORPUS[3:]))[:300],
        "gzip data ends early",
    ),
    "gzip of junk": (lambda: gzip.compress(b"\x00\x01 not xml at all"), "not XML"),
}


@pytest.mark.parametrize(
    ("kind", "command"),
    [(kind, "ingest") for kind in BAD_FILES]
    + [(kind, "extract") for kind in ("external entity", "unknown encoding", "gzip cut short")],
)
def test_a_bad_file_is_one_clear_error_and_nothing_stored_is_lost(
    run: Run, existing: Callable[[], None], tmp_path: Path, command: str, kind: str
) -> None:
    make, message = BAD_FILES[kind]
    bad = tmp_path / ("bad.xml.gz" if "gzip" in kind else "bad.xml")
    bad.write_bytes(make())

    line = one_error_line(run(command, bad))

    assert str(bad) in line and message in line
    existing()


def test_a_file_broken_part_way_keeps_what_came_before_and_loses_nothing(
    run: Run, existing: Callable[[], None], tmp_path: Path
) -> None:
    data = article_set(CORPUS[3:])
    cut = data.index(CORPUS[5].pmid.encode())
    bad = tmp_path / "bad.xml"
    bad.write_bytes(data[:cut] + b"<<broken" + data[cut:])

    line = one_error_line(run("ingest", bad))

    assert str(bad) in line and "XML syntax error" in line and "after 2 records" in line
    assert [a["pmid"] for a in map(json.loads, run("export", "articles").out.splitlines())] == [
        *PMIDS[:3],
        CORPUS[3].pmid,
        CORPUS[4].pmid,
    ]
    assert run("ingest", write_article_set(tmp_path / "fixed.xml", CORPUS[3:])).code == 0


# Edits of the bundled pipeline, and of copies of its vocabularies, that must be refused.
def bad_config(tmp_path: Path, kind: str) -> tuple[Path, str]:
    """A broken pipeline; returns it and what its error must say."""
    gazetteers = tmp_path / "gazetteers"
    shutil.copytree(BUNDLED_PIPELINES.parent / "gazetteers", gazetteers)
    baseline = tmp_path / "baseline.tsv"
    shutil.copy(BUNDLED_PIPELINES / "baselines" / "migrasome.tsv", baseline)
    path = pipeline_file(tmp_path, gazetteers=gazetteers, name="broken")
    text = path.read_text(encoding="utf-8").replace(
        f'claims = "{BUNDLED_PIPELINES}/baselines/migrasome.tsv"', f"claims = {str(baseline)!r}"
    )
    genes = gazetteers / "genes.tsv"
    expected = str(genes)
    if kind == "wrong type":
        text, expected = text.replace("overlap_days = 3", 'overlap_days = "3"'), "overlap_days"
    elif kind == "missing key":
        text = re.sub(r'(?s)term = """.*?"""', "", text)
        expected = "missing key 'term'"
    elif kind == "unknown section":
        text, expected = text + "\n[digests]\ntitle = 'x'\n", "unknown section [digests]"
    elif kind == "empty query":
        text = re.sub(r'(?s)term = """.*?"""', 'term = "   "', text)
        expected = "[query] term must not be empty"
    elif kind == "missing vocabulary":
        text, expected = text.replace('"genes.tsv"', '"genes-v2.tsv"'), "genes-v2.tsv"
    elif kind == "row with too few columns":
        genes.write_text(genes.read_text(encoding="utf-8") + "HGNC:0\tTWO\n", encoding="utf-8")
        expected = "expected 5 tab-separated columns, found 2"
    elif kind == "unknown category":
        with genes.open("a", encoding="utf-8") as out:
            out.write("X:1\tXYZ1\tplanet\t\ttest\n")
        expected = "unknown category 'planet'"
    elif kind == "id defined twice":
        first = genes.read_text(encoding="utf-8").splitlines()[1]
        with genes.open("a", encoding="utf-8") as out:
            out.write(first.split("\t")[0] + "\tOTHER9\tgene\t\ttest\n")
        expected = "is defined twice"
    elif kind == "not UTF-8":
        with genes.open("ab") as out:
            out.write(b"X:2\t\xff\xfe\tgene\t\ttest\n")
        expected = "cannot be read as UTF-8"
    elif kind == "abbreviation to an unknown id":
        with (gazetteers / "abbreviations.tsv").open("a", encoding="utf-8") as out:
            out.write("ZZQ\tzeta zeta quux\tNO:SUCH\t\n")
        expected = "points to unknown id NO:SUCH"
    elif kind == "baseline row":
        with baseline.open("a", encoding="utf-8") as out:
            out.write("EV:migrasome\tmarker\n")
        expected = str(baseline)
    path.write_text(text, encoding="utf-8")
    return path, expected


CONFIG_FAULTS = [
    "wrong type",
    "missing key",
    "unknown section",
    "empty query",
    "missing vocabulary",
    "row with too few columns",
    "unknown category",
    "id defined twice",
    "not UTF-8",
    "abbreviation to an unknown id",
    "baseline row",
]


@pytest.mark.parametrize(
    ("kind", "command"),
    [(kind, "update") for kind in CONFIG_FAULTS]
    + [(kind, "ingest") for kind in ("wrong type", "row with too few columns", "not UTF-8")]
    + [("baseline row", "extract")],  # ingest reads no baseline
)
def test_a_malformed_pipeline_or_vocabulary_is_one_clear_error(
    run: Run,
    existing: Callable[[], None],
    eutils_server: EutilsServer,
    tmp_path: Path,
    command: str,
    kind: str,
) -> None:
    path, expected = bad_config(tmp_path, kind)
    args = [tmp_path / "good.xml"] if command != "update" else ["--digest-dir", tmp_path / "d"]

    line = one_error_line(run(command, *args, "--pipeline", path))

    assert line.startswith("Error: [M100] ") and expected in line, line
    existing()
    assert eutils_server.requests() == []  # refused before PubMed was asked anything
    with UpdateLock(lock_path_for(tmp_path / "store.sqlite")):
        pass  # and the update lock is free again


SHELLISH = ["x; touch pwned #", "$(touch pwned)", "`touch pwned`", "../../etc/passwd", "a\nb"]


@pytest.mark.parametrize(
    ("args", "name"),
    [(("update", "--digest-dir", "d"), name) for name in ["nosuch", *SHELLISH]]
    + [
        (args, "nosuch")
        for args in [
            ("search", "migrasome"),
            ("export", "findings"),
            ("digest",),
            ("ingest", "good.xml"),
        ]
    ],
)
def test_an_unknown_pipeline_is_named_and_never_run_as_a_command(
    run: Run, existing: Callable[[], None], tmp_path: Path, args: tuple[str, ...], name: str
) -> None:
    line = one_error_line(run(*args, "--pipeline", name))

    assert f"unknown pipeline {name!r}" in line and "migrasome" in line
    assert not (tmp_path / "pwned").exists()
    existing()


@pytest.mark.parametrize(
    "args",
    [
        ("--since", "2024-02-30"),
        ("--until", "2024-13"),
        ("--since", "yesterday"),
        ("--until", "0000"),
        ("--since", "2024-06", "--until", "2024-05"),
    ],
)
def test_digest_refuses_an_impossible_date(
    run: Run, existing: Callable[[], None], args: tuple[str, ...]
) -> None:
    line = one_error_line(run("digest", *args), code=2)
    assert args[0] in line
    existing()


# -- the database: corrupt, read-only, full -------------------------------------------------


def corrupt_page_holding(db: Path, text: str) -> bytes:
    """Overwrite, with garbage, the database page that holds ``text``; returns the new bytes."""
    connection = sqlite3.connect(db)
    try:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # everything in the main file
        (page_size,) = connection.execute("PRAGMA page_size").fetchone()
    finally:
        connection.close()
    data = bytearray(db.read_bytes())
    start = data.index(text.encode()) // page_size * page_size
    data[start : start + page_size] = random.Random(7).randbytes(page_size)
    db.write_bytes(bytes(data))
    return bytes(data)


@pytest.mark.parametrize("args", [("export", "articles"), ("export", "findings"), ("digest",)])
def test_a_database_damaged_inside_is_one_clear_error_and_left_alone(
    run: Run, existing: Callable[[], None], tmp_path: Path, args: tuple[str, ...]
) -> None:
    db = tmp_path / "store.sqlite"
    damaged = corrupt_page_holding(db, CORPUS[1].title)

    line = one_error_line(run(*args))

    assert line.startswith(f"Error: [M500] database {db}: database disk image is malformed")
    assert "corrupt" in line
    assert db.read_bytes() == damaged


class _FaultyConnection(sqlite3.Connection):
    """A connection whose writes fail as SQLite's do when the disk fills or the file is
    read-only; ``plan`` says which write fails and how."""

    plan: ClassVar[dict[str, Any]] = {}

    def _check(self, sql: str) -> None:
        plan = _FaultyConnection.plan
        words = sql.split()
        if not plan or not words or not re.fullmatch(plan["statement"], " ".join(words[:3])):
            return
        plan["seen"] += 1
        if plan["seen"] < plan["fail_at"]:
            return
        if plan["rolls_back"] and self.in_transaction:
            super().execute("ROLLBACK")  # SQLite ends the transaction itself on SQLITE_FULL
        raise sqlite3.OperationalError(plan["error"])

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:  # type: ignore[override]
        self._check(sql)
        return super().execute(sql, *args)

    def executemany(self, sql: str, *args: Any) -> sqlite3.Cursor:  # type: ignore[override]
        self._check(sql)
        return super().executemany(sql, *args)


@pytest.fixture
def faulty_sqlite(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    real = sqlite3.connect

    def connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        return real(*args, factory=_FaultyConnection, **kwargs)

    monkeypatch.setattr(sqlite3, "connect", connect)
    monkeypatch.setattr(_FaultyConnection, "plan", {})

    def arm(*, statement: str, error: str, fail_at: int = 1, rolls_back: bool = False) -> None:
        _FaultyConnection.plan.update(
            statement=statement, error=error, fail_at=fail_at, rolls_back=rolls_back, seen=0
        )

    return arm


@pytest.mark.parametrize("name", ["ingest", "update"])
def test_a_disk_that_fills_mid_batch_is_one_clear_error_and_the_next_run_completes(
    run: Run,
    server: EutilsServer,
    command: Callable[..., Result],
    reference: Callable[[str], Outcome],
    existing: Callable[[], None],
    faulty_sqlite: Callable[..., None],
    tmp_path: Path,
    name: str,
) -> None:
    """Simulated: a batch's second article's findings fail to insert as SQLite's writes do on
    a full disk, rolling the transaction back by itself (the unshare test has a real disk)."""
    expected = reference("update")
    db = tmp_path / "store.sqlite"
    faulty_sqlite(
        statement=r"INSERT INTO findings",
        error="database or disk is full",
        fail_at=2,
        rolls_back=True,
    )
    rest = write_article_set(tmp_path / "rest.xml", CORPUS[3:])

    failed = run("ingest", rest) if name == "ingest" else command("update")

    line = one_error_line(failed)
    assert line.startswith(f"Error: [M500] database {db}: database or disk is full")
    assert "free space" in line
    _FaultyConnection.plan.clear()
    partial = snapshot(db)
    assert_only_whole_articles(partial, expected.content)
    assert set(PMIDS[:3]) <= set(pmids_of(partial))
    assert len(pmids_of(partial)) < len(PMIDS)  # the failed batch left nothing

    again = run("ingest", rest) if name == "ingest" else command("update")

    assert again.code == 0, again
    complete = snapshot(db)
    for table in ("articles", "findings", "extractions"):
        assert complete[table] == expected.content[table]


@pytest.mark.parametrize(
    "args", [("ingest", "rest.xml"), ("update", "--digest-dir", "d"), ("search", "migrasome")]
)
def test_a_read_only_database_is_one_clear_error(
    run: Run,
    server: EutilsServer,
    existing: Callable[[], None],
    faulty_sqlite: Callable[..., None],
    tmp_path: Path,
    args: tuple[str, ...],
) -> None:
    """Simulated: writes fail as they do on a read-only file (the unshare test has a real one)."""
    write_article_set(tmp_path / "rest.xml", CORPUS[3:])
    faulty_sqlite(
        statement=r"BEGIN IMMEDIATE|(INSERT|UPDATE|DELETE) .*",
        error="attempt to write a readonly database",
    )

    line = one_error_line(run(*args))

    assert "attempt to write a readonly database" in line and "read-only" in line
    _FaultyConnection.plan.clear()
    existing()


_MOUNTS: list[bool] = []


def private_mounts_work() -> bool:
    """Whether this process may mount in a private mount namespace (root with CAP_SYS_ADMIN,
    as in most CI containers): then a real read-only file system and a real full disk exist."""
    if not _MOUNTS:
        works = False
        if sys.platform == "linux" and shutil.which("unshare") and shutil.which("mount"):
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                probe = subprocess.run(
                    ["unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=64k none /mnt"],
                    capture_output=True,
                    timeout=20,
                    check=False,
                )
                works = probe.returncode == 0
        _MOUNTS.append(works)
    return _MOUNTS[0]


needs_mounts = pytest.mark.skipif(
    "not private_mounts_work()", reason="needs a private mount namespace (unshare -m)"
)


def in_mount_namespace(
    setup: str, args: list[str], env: dict[str, str], cwd: Path
) -> subprocess.CompletedProcess[str]:
    """``setup`` (shell, in a private mount namespace), then ``python -m minemig ARGS``."""
    script = f'{setup} && exec "$0" -m minemig "$@"'
    return subprocess.run(
        ["unshare", "-m", "sh", "-c", script, sys.executable, *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@needs_mounts
@pytest.mark.parametrize("what", ["folder", "file"])
def test_a_store_on_a_read_only_file_system_is_one_clear_error(
    server: EutilsServer, existing: Callable[[], None], tmp_path: Path, what: str
) -> None:
    """For real: the database (or its whole folder) bind-mounted read-only."""
    db = tmp_path / "store.sqlite"
    target = tmp_path if what == "folder" else db
    setup = f"mount --bind '{target}' '{target}' && mount -o remount,bind,ro '{target}'"
    env = minemig_env(server, tmp_path)
    write_article_set(tmp_path / "rest.xml", CORPUS[3:])
    commands = [
        ["ingest", "rest.xml", "--db", str(db)],
        ["update", "--db", str(db), "--digest-dir", str(tmp_path / "d")],
    ]
    for args in commands:
        result = in_mount_namespace(setup, args, env, tmp_path)

        line = one_error_line(Result(result.returncode, result.stdout, result.stderr))
        assert line.startswith("Error: [M500] "), line
        assert re.search("read-only|writable", line, re.I) and str(db) in line, line
    existing()
    assert server.requests() == []  # nothing was fetched that could not be kept


@needs_mounts
def test_a_full_disk_is_one_clear_error_and_the_next_run_completes(
    run: Run, existing: Callable[[], None], tmp_path: Path
) -> None:
    """For real: the store on a small tmpfs that a large ingest fills."""
    db = tmp_path / "store.sqlite"
    size = db.stat().st_size
    big = [
        Record(str(38400000 + i), title=f"Bulk {i}.", abstract=f"Text {i}. " + "word " * 3000)
        for i in range(120)
    ]
    write_article_set(tmp_path / "big.xml", big)
    disk, saved = tmp_path / "disk", tmp_path / "saved"
    disk.mkdir()
    saved.mkdir()
    # The tmpfs ends with the namespace: keep what the failed run left there for the checks.
    setup = (
        f"mount -t tmpfs -o size={size // 1024 + 640}k none '{disk}' && cp '{db}' '{disk}/'"
        f" && trap \"cp '{disk}'/store.sqlite* '{saved}/'\" EXIT"
    )
    script = f'{setup} && "$0" -m minemig "$@"'
    args = ["ingest", "big.xml", "--no-findings", "--db", str(disk / "store.sqlite")]
    result = subprocess.run(
        ["unshare", "-m", "sh", "-c", script, sys.executable, *args],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    line = one_error_line(Result(result.returncode, result.stdout, result.stderr))
    assert line.startswith(
        f"Error: [M500] database {disk / 'store.sqlite'}: database or disk is full"
    )
    shutil.copy(saved / "store.sqlite", db)
    for leftover in ("store.sqlite-wal", "store.sqlite-shm"):
        if (saved / leftover).exists():
            shutil.copy(saved / leftover, tmp_path / leftover)
    existing()  # what was there before, all of it

    again = run("ingest", tmp_path / "big.xml", "--no-findings")  # with room again

    assert again.code == 0, again
    assert len(pmids_of(snapshot(db))) == 3 + len(big)


# -- secrets --------------------------------------------------------------------------------


def echo_page(status: int) -> Fault:
    """An error page of a proxy that repeats the request it got, key and all."""
    url = f"/entrez/eutils/efetch.fcgi?db=pubmed&api_key={quote_plus(API_KEY)}"
    body = f"<html><body><h1>{status}</h1><p>GET {url}</p><p>key: {API_KEY}</p></body></html>"
    return Fault.respond(status, body.encode(), content_type="text/html")


@pytest.mark.parametrize("debug", [False, True], ids=["quiet", "debug"])
def test_the_api_key_never_shows_in_output_logs_errors_digests_or_the_store(
    server: EutilsServer,
    command: Callable[..., Result],
    run: Run,
    pipeline: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    debug: bool,
) -> None:
    caplog.set_level("DEBUG")  # every library's debug lines too (urllib3 logs whole URLs)
    flags = ["--debug"] if debug else []
    term = load_topic(str(pipeline)).query_term
    # A server that repeats the key in its notes on the query, which are logged and kept.
    server.annotate(
        term,
        errors=[("PhraseNotFound", API_KEY)],
        warnings=[("OutputMessage", f"api_key={quote_plus(API_KEY)} ignored")],
        translation=f'"migrasome"[All Fields] AND {API_KEY}',
    )
    server.inject("esearch", Fault.status(500), Fault.reset())
    inject(server, "efetch", [Fault.status(503, retry_after=1), Fault.truncated()])
    results = [command("update", *flags)]
    assert results[0].code == 0, results[0]
    json_echo = b'{"error":"API key invalid","api-key":"%s"}' % API_KEY.encode()
    for endpoint, faults in [  # each fails the search: at once, or when the tries run out
        ("efetch", [echo_page(400)]),
        ("esearch", [Fault.respond(200, json_echo, content_type="application/json")]),
        ("esearch", [Fault.error_in_200(f"Invalid API key {API_KEY}")]),
        ("esearch", [Fault.status(502, body=echo_page(502).body)] * MAX_TRIES),
    ]:
        server.inject(endpoint, *faults)
        failed = command("search", *flags)
        assert failed.code == 1 and failed.err_lines[-1].startswith("Error: ["), failed
        assert server.pending(endpoint) == 0
        results.append(failed)
    results.append(run("digest", "--pipeline", pipeline, "--since", "2000", *flags))

    assert {r.params.get("api_key") for r in server.requests()} == {API_KEY}  # sent, always
    for result in results:
        no_key(result.out, result.err)
        if debug and result.code:
            assert "Traceback" in result.err
    no_key(*(record.getMessage() for record in caplog.records))
    assert any("HTTP 503" in line for r in results for line in r.err_lines) == debug
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"store.sqlite", "store.sqlite.lock"}
    assert any(p.suffix == ".md" for p in files)
    for path in files:  # the database, its WAL, the lock, the digests, everything
        data = path.read_bytes()
        for form in KEY_FORMS:
            assert form.encode() not in data, path


# -- text written by others -----------------------------------------------------------------

HOSTILE = Record(
    "38200177",
    title=(
        "Migrasomes <script>alert(1)</script> [click](javascript:alert(1))"
        " ![pixel](http://evil.example/t.png) | a | b | `code` <img src=x onerror=alert(1)>"
    ),
    abstract=(
        "# Injected heading\n"
        "TSPAN4-positive migrasomes were enriched in PLD1 <b>bold</b> [here](javascript:alert(1))"
        " | cell | `rm -rf ~` &amp; <https://evil.example> in L929 cells."
    ),
    journal="J <i>Evil</i> | *x* [y](http://evil.example)",
    pub_date="2024-08-01",
    entrez_date=date(2024, 8, 2),
)


class _Html(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.headings: list[str] = []
        self._in_heading = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_heading = tag in ("h1", "h2", "h3", "h4", "h5", "h6")
        if self._in_heading:
            self.headings.append("")

    def handle_endtag(self, tag: str) -> None:
        self._in_heading = False

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._in_heading:
            self.headings[-1] += data


def assert_renders_as_plain_text(markdown: str, *parts: str) -> None:
    """Rendered as a markdown viewer does, hostile text stays text: no element, link, image,
    table or heading of its own, and each of ``parts`` there to read as written."""
    markdown_it = pytest.importorskip("markdown_it")
    rendered = markdown_it.MarkdownIt("commonmark").enable("table").render(markdown)
    page = _Html()
    page.feed(rendered)
    tags = {tag for tag, _ in page.tags}
    assert tags <= {"h1", "h2", "h3", "p", "ul", "li", "strong", "em", "a", "code", "pre"}, tags
    for tag, attrs in page.tags:
        if tag == "a":
            assert re.fullmatch(r"https://pubmed\.ncbi\.nlm\.nih\.gov/\d+/", attrs["href"] or "")
    assert not any("Injected" in heading for heading in page.headings)
    text = "".join(page.text)
    for part in parts:
        assert part in text, part


TITLE_PARTS = ("<script>alert(1)</script>", "[click](javascript:alert(1))", "| a | b |", "`code`")
EVIDENCE_PARTS = ("<b>bold</b>", "[here](javascript:alert(1))", "| cell |", "`rm -rf ~`")


def test_digests_and_reports_render_text_from_abstracts_as_text(
    server: EutilsServer, command: Callable[..., Result], run: Run, pipeline: Path, tmp_path: Path
) -> None:
    server.add(HOSTILE)

    updated = command("update")
    printed = run("digest", "--pipeline", pipeline, "--since", "2000")
    searched = run("search", "migrasome", "--pipeline", pipeline, "--format", "md")

    assert updated.code == printed.code == searched.code == 0
    (digest,) = outcome(tmp_path / "store.sqlite").files.values()
    for markdown in (digest, printed.out):
        assert f"[PMID {HOSTILE.pmid}]" in markdown
        assert_renders_as_plain_text(markdown, *TITLE_PARTS, *EVIDENCE_PARTS, "<i>Evil</i>")
    assert_renders_as_plain_text(searched.out, *EVIDENCE_PARTS)


def test_sql_in_a_query_or_a_record_is_data_never_sql(
    server: EutilsServer, run: Run, existing: Callable[[], None], tmp_path: Path
) -> None:
    query = "x'); DROP TABLE articles;-- \" OR 1=1 --"
    bobby = Record(
        "38200166",
        title="Robert'); DROP TABLE articles;-- migrasomes",
        abstract="Migrasomes carry CXCL12'; DELETE FROM findings; --.",
        journal="'; UPDATE articles SET title = 'owned'; --",
    )
    server.add(bobby)
    server.map_term(query, [bobby.pmid])

    result = run("search", query, "--format", "jsonl")

    assert result.code == 0, result
    db = tmp_path / "store.sqlite"
    assert [r[0] for r in stored(db, "SELECT query FROM runs WHERE command = 'search'")] == [query]
    articles = {a["pmid"]: a for a in map(json.loads, run("export", "articles").out.splitlines())}
    assert (articles[bobby.pmid]["title"], articles[bobby.pmid]["journal"]) == (
        bobby.title,
        bobby.journal,
    )
    assert len(articles) == 4 and all(a["title"] != "owned" for a in articles.values())
    assert set(TABLES) <= {r[0] for r in stored(db, "SELECT name FROM sqlite_master")}


SQL_WORDS = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE|WHERE|PRAGMA|CREATE|DROP|VALUES|FROM)\b")


def test_no_sql_or_shell_command_is_built_from_values() -> None:
    """SQL text is constant, values go in as parameters (an f-string may only add ``?``
    placeholders); no shell ever runs."""
    problems = []
    for path in sorted((REPO / "minemig").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in ast.walk(tree):
            where = f"{path.relative_to(REPO)}:{getattr(node, 'lineno', '?')}"
            if isinstance(node, ast.JoinedStr):
                constant = "".join(
                    v.value
                    for v in node.values
                    if isinstance(v, ast.Constant) and isinstance(v.value, str)
                )
                holes = [
                    ast.unparse(v.value) for v in node.values if isinstance(v, ast.FormattedValue)
                ]
                if SQL_WORDS.search(constant) and not all("'?'" in hole for hole in holes):
                    problems.append(f"{where}: SQL built with {holes}")
            elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
                if isinstance(node.left, ast.Constant) and SQL_WORDS.search(str(node.left.value)):
                    problems.append(f"{where}: SQL built with %")
            elif isinstance(node, ast.Call):
                name = ast.unparse(node.func)
                if name.endswith(".format") and SQL_WORDS.search(name):
                    problems.append(f"{where}: SQL built with format()")
                if name in {
                    "os.system",
                    "os.popen",
                    "subprocess.getoutput",
                    "subprocess.getstatusoutput",
                }:
                    problems.append(f"{where}: {name}")
                if any(k.arg == "shell" and ast.unparse(k.value) != "False" for k in node.keywords):
                    problems.append(f"{where}: shell=")
    assert problems == []


# -- any input: the parser and the size reader ----------------------------------------------


def parse_any(data: bytes) -> list[Article | Deletion | SkippedRecord]:
    """What iter_records makes of ``data``: records, or a ParseError and nothing else."""
    try:
        return list(parse.iter_records(data, source_name="fuzz.xml"))
    except ParseError as exc:
        assert str(exc).startswith("[M400] fuzz.xml: "), exc
        return []


VALID = article_set(CORPUS[:2])
ENCODINGS = st.sampled_from(
    [
        "utf-8",
        "UTF-16",
        "latin-1",
        "ascii",
        "cp1252",
        "Shift_JIS",
        "EUC-JP",
        "gb2312",
        "big5",
        "utf-7",
        "cp500",
        "iso-2022-jp",
        "koi8-r",
        "x-unknown",
        "",
    ]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=600))
def test_any_bytes_give_records_or_a_parse_error(data: bytes) -> None:
    parse_any(data)
    parse_any(gzip.compress(data))
    parse_any(b"\x1f\x8b" + data)


@settings(max_examples=300, deadline=None)
@given(
    cut=st.integers(0, len(VALID)),
    junk=st.binary(max_size=40),
    encoding=ENCODINGS | st.text(max_size=12),
    gzipped=st.booleans(),
)
def test_a_damaged_pubmed_file_gives_records_or_a_parse_error(
    cut: int, junk: bytes, encoding: str, gzipped: bool
) -> None:
    body = VALID.split(b"?>", 1)[1]
    declaration = f'<?xml version="1.0" encoding="{escape(encoding)}"?>'.encode(errors="replace")
    data = declaration + body[:cut] + junk + body[cut:]
    records = parse_any(gzip.compress(data) if gzipped else data)
    for record in records:
        assert isinstance(record, (Article, Deletion, SkippedRecord))


TAG = st.from_regex(r"[A-Za-z_][A-Za-z0-9_.-]{0,8}", fullmatch=True)
TEXT = st.text(
    alphabet=st.characters(exclude_categories=["Cs", "Cc", "Cn"], include_characters="\t\n"),
    max_size=30,
)
MARKUP = st.recursive(
    TEXT.map(lambda t: (escape(t), t)),
    lambda inner: (
        st.tuples(TAG, st.lists(inner, max_size=4), st.sampled_from(["", ' a="1"'])).map(
            lambda parts: (
                f"<{parts[0]}{parts[2]}>{''.join(x for x, _ in parts[1])}</{parts[0]}>",
                "".join(t for _, t in parts[1]),
            )
        )
        | st.sampled_from(
            [("<!-- a comment -->", ""), ("<?pi data?>", ""), ("<![CDATA[<b>]]>", "<b>")]
        )
    ),
    max_leaves=12,
)


@settings(max_examples=100, deadline=None)
@given(title=st.lists(MARKUP, max_size=5), abstract=st.lists(MARKUP, max_size=5))
def test_any_nested_inline_markup_reads_as_its_text(
    title: list[tuple[str, str]], abstract: list[tuple[str, str]]
) -> None:
    record = Record(
        "38200155",
        title=Raw("".join(x for x, _ in title)),
        abstract=Raw("".join(x for x, _ in abstract)),
    )
    (article,) = parse_any(article_set([record]))
    assert isinstance(article, Article)
    assert article.title == " ".join("".join(t for _, t in title).split())
    assert article.abstract == " ".join("".join(t for _, t in abstract).split())


NUMBERS = st.from_regex(r"\d{1,6}([.,]\d{1,4})?", fullmatch=True) | st.integers(1, 400).map(
    lambda n: "9" * n  # past 309 digits a float is infinite
)
UNITS = st.sampled_from(["nm", "µm", "μm", "um", "micron", "nanometres", "mm", ""])


@settings(max_examples=300, deadline=None)
@given(
    text=st.text(max_size=120)
    | st.lists(
        st.one_of(NUMBERS, UNITS, st.sampled_from([" ", "-", "–", "±", " to ", "up to ", "~"])),
        max_size=12,
    ).map("".join)
)
def test_any_text_gives_finite_ordered_sizes(text: str) -> None:
    for size in find_sizes(text):
        assert 0 <= size.min_nm <= size.max_nm < float("inf"), size
        assert text[size.start : size.end] == size.text
        assert size.entity_id.startswith("SIZE:")


@pytest.mark.parametrize(
    "text",
    ["1" * 20000, "1" + ",000" * 5000, "1." + "0" * 20000, "0.5-" * 5000, "1 " * 10000 + "µ"],
    ids=["digits", "thousands", "decimals", "ranges", "spaced"],
)
def test_the_size_reader_takes_linear_time(text: str) -> None:
    started = time.perf_counter()
    find_sizes(text)
    assert time.perf_counter() - started < 1.0

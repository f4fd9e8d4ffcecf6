"""``minemig update`` and ``minemig digest`` end to end against the loopback E-utilities server.

Day one serves three records; day two revises one, retracts another that supported a
finding of day one, and adds new ones. The loopback server filters on its one date, the
entry date, so a revised record is served again with day two's date.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from cli_runner import Result, Run, run_cli, share_readers
from eutils_server import EutilsServer, Fault
from pubmed_xml import Record, write_article_set

from minemig import fetch, orchestrate
from minemig.lock import UpdateLock, lock_path_for
from minemig.store import Store
from minemig.topic import BUNDLED_PIPELINES

TODAY = date.today()

# -- the corpus -------------------------------------------------------------------------

DAY_ONE = (
    Record(
        "38100101",
        title="Migrasome markers in murine fibroblasts.",
        abstract="TSPAN4-positive migrasomes were enriched in PLD1 in L929 cells.",
        journal="Cell Research",
        pub_date="2024-01-15",
        entrez_date=date(2024, 1, 16),
    ),
    Record(
        "38100102",
        title="Migrasomes of neutrophils.",
        abstract="Neutrophil-derived migrasomes promote angiogenesis.",
        journal="Blood",
        pub_date="2024-02-10",
        entrez_date=date(2024, 2, 11),
    ),
    Record(
        "38100103",
        title="How migrasomes form.",
        abstract="Migrasome formation requires sphingomyelin synthase 2.",
        journal="Nature Cell Biology",
        pub_date="2024-02-20",
        entrez_date=date(2024, 2, 21),
    ),
)
REVISED = Record(
    "38100101",
    version=1,
    title="Migrasome markers in murine fibroblasts (corrected).",
    abstract="TSPAN4-positive migrasomes were enriched in PLD1 in L929 cells.",
    journal="Cell Research",
    pub_date="2024-01-15",
    entrez_date=TODAY,
)
RETRACTED = Record(
    "38100103",
    title="How migrasomes form.",
    abstract="Migrasome formation requires sphingomyelin synthase 2.",
    journal="Nature Cell Biology",
    pub_date="2024-02-20",
    entrez_date=TODAY,
    publication_types=("Journal Article", "Retracted Publication"),
)
DAY_TWO_NEW = (
    Record(
        "38100104",
        title="Giant migrasomes.",
        abstract="Migrasomes ranged from 5 to 8 µm in diameter.",
        journal="Cell Reports",
        pub_date="2024-05-02",
        entrez_date=TODAY,
    ),
    Record(
        "38100105",
        title="Migrasome composition revisited.",
        abstract="TSPAN4 was not enriched in migrasomes of macrophages.",
        journal="Immunity",
        pub_date="2024-05-20",
        entrez_date=TODAY,
    ),
)
DAY_TWO = (REVISED, RETRACTED, *DAY_TWO_NEW)

# -- fixtures ---------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing outside tmp_path, nothing from the user's environment."""
    monkeypatch.setenv("MINEMIG_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MINEMIG_DB", str(tmp_path / "store.sqlite"))
    monkeypatch.setenv("NCBI_EMAIL", "tests@example.org")
    for name in ("NCBI_API_KEY", "MINEMIG_PIPELINES_DIR", "MINEMIG_SCISPACY_MODEL"):
        monkeypatch.delenv(name, raising=False)
    share_readers(monkeypatch)

    class Client(fetch.EutilsClient):
        """NCBI's rate limit is for NCBI; the loopback server takes requests at full speed."""

        def __init__(self, settings: Any, **options: Any) -> None:
            options.setdefault("requests_per_second", 1000.0)
            super().__init__(settings, **options)

    monkeypatch.setattr(fetch, "EutilsClient", Client)


@pytest.fixture
def server(eutils_server: EutilsServer) -> EutilsServer:
    eutils_server.matcher = lambda term, record: "migrasom" in record.text
    eutils_server.add(*DAY_ONE)
    return eutils_server


@pytest.fixture
def pipeline(tmp_path: Path) -> Path:
    """The migrasome pipeline with batches of two records, so a run has several."""
    text = (BUNDLED_PIPELINES / "migrasome.toml").read_text(encoding="utf-8")
    text = text.replace(
        'directory = "../gazetteers"', f'directory = "{BUNDLED_PIPELINES.parent}/gazetteers"'
    )
    text = text.replace('claims = "baselines/', f'claims = "{BUNDLED_PIPELINES}/baselines/')
    text = re.sub(r"(?m)^batch_size = \d+$", "batch_size = 2", text)
    path = tmp_path / "migrasome.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Run:
    """``minemig ARGS...`` in-process: exit status, stdout, stderr."""
    return lambda *args: run_cli(capsys, *args)


@pytest.fixture
def update(run: Run, tmp_path: Path, pipeline: Path) -> Callable[..., Result]:
    def invoke(*more: str) -> Result:
        return run("update", "--pipeline", pipeline, "--digest-dir", tmp_path / "digests", *more)

    return invoke


def digests(tmp_path: Path) -> list[Path]:
    folder = tmp_path / "digests"
    return (
        sorted(folder.glob("*.md"), key=lambda p: p.stat().st_mtime_ns) if folder.exists() else []
    )


def section(markdown: str, heading: str) -> str:
    """The text under ``## heading`` up to the next ``## ``; empty when absent."""
    match = re.search(rf"(?ms)^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", markdown)
    return match.group(1) if match else ""


def entities(text: str) -> list[str]:
    """The bold entity names of a section's entries."""
    return re.findall(r"(?m)^- \*\*(.+?)\*\*", text)


def store_counts(db: Path) -> dict[str, int]:
    with Store(db) as store:
        return {
            table: store.query(f"SELECT COUNT(*) FROM {table}")[0][0]
            for table in ("articles", "digests", "reported", "reported_support")
        }


# -- the weekly cycle -------------------------------------------------------------------


def test_day_one_day_two_and_a_rerun(
    server: EutilsServer, update: Callable[..., Result], tmp_path: Path
) -> None:
    db = tmp_path / "store.sqlite"
    first = update()
    assert (first.code, first.err) == (0, "")
    assert first.out.count("\n") == 1 and first.out.startswith("update migrasome: 3 records")
    (day_one,) = digests(tmp_path)
    assert day_one.name == f"migrasome-{TODAY.isoformat()}.md"
    assert str(day_one) in first.out
    one = day_one.read_text(encoding="utf-8")
    assert "First digest" in one
    assert sorted(entities(section(one, "New findings"))) == [
        "PLD1",
        "SGMS2",
        "angiogenesis",
        "neutrophil",
    ]
    assert "— confirms a hypothesis of the review —" in one
    assert sorted(entities(section(one, "Confirmed hypotheses"))) == ["angiogenesis", "neutrophil"]
    assert "restates" in section(one, "Confirmations of baseline claims")  # TSPAN4

    server.add(*DAY_TWO)
    second = update()
    assert (second.code, second.err) == (0, "")
    day_one_again, day_two = digests(tmp_path)
    assert day_one_again.read_text(encoding="utf-8") == one  # a digest is never overwritten
    assert day_two.name == f"migrasome-{TODAY.isoformat()}-2.md"
    two = day_two.read_text(encoding="utf-8")
    assert "**4 papers read, 1 new finding, 2 contradictions.**" in two
    assert entities(section(two, "New findings")) == ["5 to 8 µm"]
    assert "outside the baseline range (500–3000 nm)" in two
    assert entities(section(two, "Contradictions")) == ["TSPAN4", "5 to 8 µm"]
    assert entities(section(two, "Negative results")) == ["macrophage"]
    retractions = section(two, "Retractions")
    assert "[PMID 38100103]" in retractions
    assert "**SGMS2** — biogenesis of migrasome, reported" in retractions
    assert "no other paper supports it" in retractions
    papers = section(two, "Papers")
    assert re.findall(r"\[PMID (\d+)\]", papers) == ["38100101", "38100103", "38100104", "38100105"]
    assert "\\(corrected\\). *Cell Research* — revised" in papers
    assert "*Nature Cell Biology* — revised, retracted" in papers
    assert "1 paper restates 1 finding reported in an earlier digest." in two  # PLD1
    assert "PLD1" not in section(two, "New findings")

    counts = store_counts(db)
    assert counts["articles"] == 5 and counts["digests"] == 2

    rerun = update()
    assert (rerun.code, rerun.err) == (0, "")
    assert rerun.out.rstrip().endswith("; nothing new")
    assert len(digests(tmp_path)) == 2
    assert store_counts(db) == counts


def test_quiet_prints_nothing_and_the_default_folder_is_in_the_data_directory(
    server: EutilsServer, run: Run, tmp_path: Path
) -> None:
    result = run("update", "--quiet")
    assert (result.code, result.out, result.err) == (0, "", "")
    assert (tmp_path / "data" / "digests" / f"migrasome-{TODAY.isoformat()}.md").is_file()


def test_the_window_starts_overlap_days_before_the_last_update(
    server: EutilsServer, update: Callable[..., Result]
) -> None:
    assert update().code == 0
    searches = server.requests("esearch")
    assert "mindate" not in searches[0].params  # the first run fetches everything
    server.clear_log()
    assert update().code == 0
    (search,) = server.requests("esearch")
    expected = date.fromordinal(TODAY.toordinal() - 3)
    assert search.params["mindate"] == expected.strftime("%Y/%m/%d")
    assert search.params["datetype"] == "edat"


def test_a_retraction_stored_by_ingest_reaches_the_next_digest(
    server: EutilsServer, update: Callable[..., Result], run: Run, tmp_path: Path
) -> None:
    """PubMed keeps a record's entry date when it revises it; an update file brings it."""
    assert update().code == 0
    update_file = write_article_set(tmp_path / "pubmed25n1500.xml", [RETRACTED])
    assert run("ingest", update_file).code == 0
    result = update()
    assert result.code == 0 and "; nothing new" not in result.out
    text = digests(tmp_path)[-1].read_text(encoding="utf-8")
    assert re.findall(r"\[PMID (\d+)\]", section(text, "Papers")) == ["38100103"]
    assert "**SGMS2** — biogenesis of migrasome, reported" in section(text, "Retractions")


# -- interrupted runs -------------------------------------------------------------------


def test_a_run_that_fails_after_its_first_batch_is_completed_by_the_next(
    server: EutilsServer, update: Callable[..., Result], tmp_path: Path
) -> None:
    assert update().code == 0
    server.add(*DAY_TWO)
    # Batches of two: the first efetch is served, the second fails for good.
    server.inject("efetch", Fault.slow(0), Fault.error_in_200("Cannot process the request"))
    failed = update()
    assert failed.code == 1 and failed.out == ""
    assert failed.err.count("\n") == 1 and failed.err.startswith("Error: [M300]")
    assert len(digests(tmp_path)) == 1
    with Store(tmp_path / "store.sqlite") as store:
        assert store.runs()[-1]["status"] == "failed"
        assert store.runs()[-1]["counts"]["new"] + store.runs()[-1]["counts"]["updated"] == 2

    again = update()
    assert again.code == 0
    two = digests(tmp_path)[-1].read_text(encoding="utf-8")
    assert re.findall(r"\[PMID (\d+)\]", section(two, "Papers")) == [
        "38100101",
        "38100103",
        "38100104",
        "38100105",
    ]
    assert entities(section(two, "New findings")) == ["5 to 8 µm"]


@pytest.mark.parametrize("where", ["second batch", "commit", "file"])
def test_a_run_killed_anywhere_is_finished_by_the_next_without_duplicates(
    where: str,
    server: EutilsServer,
    update: Callable[..., Result],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert update().code == 0
    server.add(*DAY_TWO)
    db = tmp_path / "store.sqlite"

    armed = [True]

    def killing(real: Callable[..., Any], *, on_call: int = 1) -> Callable[..., Any]:
        calls = []

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            calls.append(1)
            if armed[0] and len(calls) == on_call:
                armed[0] = False
                raise KeyboardInterrupt  # stands for SIGKILL: nothing after it runs
            return real(*args, **kwargs)

        return wrapper

    if where == "second batch":
        monkeypatch.setattr(Store, "write_batch", killing(Store.write_batch, on_call=2))
    elif where == "commit":
        monkeypatch.setattr(Store, "commit_digest", killing(Store.commit_digest))
    else:
        monkeypatch.setattr(
            orchestrate, "write_digest_file", killing(orchestrate.write_digest_file)
        )
    killed = update()
    assert killed.code == 130 and killed.out == ""
    assert not armed[0]
    assert len(digests(tmp_path)) == 1

    finished = update()
    assert finished.code == 0, finished.err
    if where == "file":
        assert "wrote 1 digest(s) left by an interrupted run" in finished.out
        assert finished.out.rstrip().endswith("; nothing new")
    assert len(digests(tmp_path)) == 2
    two = digests(tmp_path)[-1].read_text(encoding="utf-8")
    assert entities(section(two, "New findings")) == ["5 to 8 µm"]
    assert len(re.findall(r"\[PMID (\d+)\]", section(two, "Papers"))) == 4
    with Store(db) as store:
        (digest,) = store.query("SELECT path, markdown FROM digests WHERE id = 2")
        assert Path(digest["path"]).read_text(encoding="utf-8") == digest["markdown"]
        statuses = [r["status"] for r in store.runs() if r["command"] == "update"]
    # Killed after its commit, the run was done but for the file.
    assert statuses == ["ok", "ok" if where == "file" else "interrupted", "ok"]
    # Four keys of day one and the size of day two, each cited with the one paper stating it.
    assert store_counts(db) == {"articles": 5, "digests": 2, "reported": 5, "reported_support": 5}
    assert update().out.rstrip().endswith("; nothing new")
    assert len(digests(tmp_path)) == 2


# -- the lock ---------------------------------------------------------------------------


def test_a_second_update_while_one_runs_stops_at_once(
    server: EutilsServer, update: Callable[..., Result], tmp_path: Path
) -> None:
    with UpdateLock(lock_path_for(tmp_path / "store.sqlite")):
        refused = update()
    assert refused.code == 1 and refused.out == ""
    assert refused.err.count("\n") == 1
    assert refused.err.startswith("Error: [M510] another minemig update is running")
    assert f"PID {os.getpid()}" in refused.err
    assert server.requests() == []
    assert update().code == 0  # released


def test_a_lock_left_by_a_killed_process_is_taken_over(
    server: EutilsServer, update: Callable[..., Result], tmp_path: Path
) -> None:
    lock = lock_path_for(tmp_path / "store.sqlite")
    code = (
        "import os, signal, sys; from pathlib import Path; from minemig.lock import UpdateLock;"
        " UpdateLock(Path(sys.argv[1])).acquire(); os.kill(os.getpid(), signal.SIGKILL)"
    )
    child = subprocess.run([sys.executable, "-c", code, str(lock)], check=False)
    assert child.returncode == -signal.SIGKILL
    assert lock.read_text().startswith("PID ")  # the killed holder's note is still there

    result = update()
    assert (result.code, result.err) == (0, "")
    assert lock.read_text() == ""  # released cleanly this time


# -- minemig digest ---------------------------------------------------------------------


def test_digest_renders_a_period_without_marking_anything(
    server: EutilsServer, update: Callable[..., Result], run: Run, pipeline: Path, tmp_path: Path
) -> None:
    assert update().code == 0
    before = store_counts(tmp_path / "store.sqlite")
    out = tmp_path / "whole.md"
    result = run("digest", "--pipeline", pipeline, "--since", "2000", "--out", out)
    assert (result.code, result.out, result.err) == (0, "", "")
    text = out.read_text(encoding="utf-8")
    assert "from 2000-01-01 to" not in text and "from 2000-01-01 on" in text
    assert sorted(entities(section(text, "New findings"))) == [
        "PLD1",
        "SGMS2",
        "angiogenesis",
        "neutrophil",
    ]
    # By default: since the last digest, where nothing has happened yet.
    result = run("digest", "--pipeline", pipeline)
    assert result.code == 0
    assert "since the digest of" in result.out
    assert "**0 papers read, 0 new findings, 0 contradictions.**" in result.out
    assert store_counts(tmp_path / "store.sqlite") == before

    bad = run("digest", "--since", "2025-02", "--until", "2025-01")
    assert bad.code == 2 and bad.err.startswith("Error: [M200] --since")

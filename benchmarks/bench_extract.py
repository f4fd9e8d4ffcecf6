"""Throughput benchmark: minemig's full extraction against the libraries it stands on.

    .venv/bin/python benchmarks/bench_extract.py [--records 10000] [--ingest-records 30000]

Generates a corpus (``benchmarks/corpus.py``) and prints, measured in this run on the same
texts: abstracts per second for

- scispaCy's tokenizer alone (``combined_rule_tokenizer``): the ceiling;
- the reference stack any gazetteer-based tool starts from: that tokenizer, a sentencizer,
  scispaCy's AbbreviationDetector and an EntityRuler loaded with minemig's gazetteer
  patterns, run over the texts already in memory;
- minemig's full extraction, as ``minemig extract --format jsonl`` does it: parse the
  .xml.gz, read, find, attach the baseline status, write JSONL; with one worker and with
  ``--workers``;

each single-process figure the best of three rounds taken in turn (noise from the machine
only ever adds time); then where the time goes per pipeline component, and an ingest of a
30,000-record baseline-style file (``minemig ingest --workers``, a new process, as a user
runs it): its time, the peak memory of all its processes together, and the time of a
second run of the same command, which finds nothing new.

Not a test: it takes a few minutes. CPU time other processes took during a measurement is
reported, since it makes the figures (above all the speed-up of workers) too low.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import psutil

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
MINEMIG = [sys.executable, "-m", "minemig"]
WARM_UP = 200  # abstracts each stack reads before it is timed
ROUNDS = 3  # single-process measurements of each stack; the fastest is reported


@dataclass
class Measure:
    seconds: float
    cores: float  # CPU seconds of this process and its children per second
    cpu_others: float  # share of the machine's CPU time used by other processes

    def rate(self, n: int) -> float:
        return n / self.seconds


def measure(work: Callable[[], Any]) -> tuple[Measure, Any]:
    """Wall time of ``work``, and how busy other processes kept the CPUs meanwhile."""
    me = psutil.Process()
    ours_before = _tree_cpu(me)
    machine_before = psutil.cpu_times()
    started = time.perf_counter()
    result = work()
    seconds = time.perf_counter() - started
    machine_after = psutil.cpu_times()
    busy = _busy(machine_after) - _busy(machine_before)
    ours = _tree_cpu(me) - ours_before
    capacity = seconds * (psutil.cpu_count() or 1)
    return Measure(seconds, ours / seconds, max(0.0, busy - ours) / capacity), result


def _busy(times: Any) -> float:
    return float(times.user + times.system + getattr(times, "nice", 0.0))


def _tree_cpu(process: psutil.Process) -> float:
    """CPU seconds of a process and its live children, plus the children it has waited for."""
    total = 0.0
    for p in [process, *process.children(recursive=True)]:
        try:
            t = p.cpu_times()
        except psutil.Error:
            continue
        total += t.user + t.system
        if p is process:
            total += t.children_user + t.children_system
    return total


# -- the corpus -----------------------------------------------------------------------------


def make_corpus(folder: Path, n: int, n_ingest: int) -> tuple[Path, Path]:
    """``n`` abstracts to extract, and a baseline-style file of ``n_ingest`` records to
    ingest: its last records revise earlier ones (a new Version) and it ends with a
    DeleteCitation, as update files do. Both start with the same records."""
    sys.path.insert(0, str(HERE))
    import corpus

    small = corpus.write_corpus(folder / "corpus.xml.gz", corpus.records(n))
    base = n_ingest - n_ingest // 300

    def baseline_file() -> Iterator[Any]:
        revised = []
        for i, record in enumerate(corpus.records(base)):
            if i % 300 == 0:
                revised.append(
                    replace(record, version=2, title=record.title.replace(".", " (corrected)."))
                )
            yield record
        yield from revised

    first = int(next(corpus.records(1)).pmid)
    deleted = [str(first + i) for i in range(150, base, 600)]
    big = corpus.write_corpus(
        folder / "pubmed-bench.xml.gz", baseline_file(), deleted_pmids=deleted
    )
    return small, big


# -- the measurements -----------------------------------------------------------------------


def topic_files() -> Any:
    from minemig.topic import load_topic

    return load_topic("migrasome")


def reference_stack() -> Any:
    """scispaCy tokenizer, sentencizer, AbbreviationDetector, EntityRuler with minemig's
    gazetteer patterns: what a gazetteer-based tool is built from."""
    import scispacy.abbreviation  # noqa: F401  registers "abbreviation_detector"
    import spacy
    from scispacy.custom_tokenizer import combined_rule_tokenizer

    from minemig.nlp.gazetteer_patterns import cached_gazetteer

    topic = topic_files()
    nlp = spacy.blank("en")
    nlp.tokenizer = combined_rule_tokenizer(nlp)
    nlp.add_pipe("sentencizer")
    nlp.add_pipe("abbreviation_detector")
    ruler = nlp.add_pipe(
        "entity_ruler",
        config={"phrase_matcher_attr": "LOWER", "overwrite_ents": True, "validate": False},
    )
    gazetteer = cached_gazetteer(
        tuple(str(p) for p in topic.gazetteer_files),
        tuple(str(p) for p in topic.abbreviation_files),
    )
    ruler.add_patterns(gazetteer.patterns())  # type: ignore[attr-defined]
    return nlp


def full_extraction(path: Path, reader: Any, out: Path) -> str:
    """What ``minemig extract FILE --format jsonl`` does, into ``out``; the output's sha256."""
    from minemig.baseline import load_baseline
    from minemig.orchestrate import extract
    from minemig.report import finding_record, write_jsonl

    topic = topic_files()
    baseline = load_baseline(topic.baseline_path)
    watched = topic.watched_ev_types
    findings = (
        replace(f, status=baseline.status(f, watched))
        for f in extract([path], reader, lambda message: None)
    )
    with open(out, "w", encoding="utf-8") as stream:
        write_jsonl((finding_record(f) for f in findings), stream)
    return hashlib.sha256(out.read_bytes()).hexdigest()


def component_times(reader: Any, texts: list[str]) -> list[tuple[str, float]]:
    """Seconds per component of minemig's pipeline over ``texts``, one component at a time."""
    nlp = reader.nlp
    started = time.perf_counter()
    docs = [nlp.make_doc(text) for text in texts]
    times = [("tokenizer (scispaCy's, with minemig's splits)", time.perf_counter() - started)]
    for name, component in nlp.pipeline:
        started = time.perf_counter()
        docs = [component(doc) for doc in docs]
        times.append((name, time.perf_counter() - started))
    return times


@dataclass
class IngestRun:
    seconds: float
    peak_rss: int  # bytes, all processes of the run together
    summary: str


def run_ingest(args: list[str], env: dict[str, str]) -> IngestRun:
    """One ``minemig ingest`` in a new process, sampling the memory of its process tree."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [*MINEMIG, "ingest", *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    watched = psutil.Process(process.pid)
    peak = 0
    while process.poll() is None:
        total = 0
        try:
            for p in [watched, *watched.children(recursive=True)]:
                total += p.memory_info().rss
        except psutil.Error:
            pass
        peak = max(peak, total)
        time.sleep(0.05)
    seconds = time.perf_counter() - started
    out, err = process.communicate()
    if process.returncode != 0:
        raise SystemExit(f"minemig ingest failed: {err.decode()}")
    return IngestRun(seconds, peak, out.decode().strip())


# -- report ---------------------------------------------------------------------------------


def row(label: str, n: int, m: Measure) -> str:
    return (
        f"  {label:<54} {m.rate(n):>6,.0f} abstracts/s {m.seconds:>6.1f} s"
        f"  {m.cores:.2f} cores{_others(m)}"
    )


def words(articles: list[Any]) -> float:
    from minemig.nlp import article_text

    return sum(len(article_text(a).split()) for a in articles) / max(1, len(articles))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=10_000, help="abstracts to extract")
    parser.add_argument("--ingest-records", type=int, default=30_000, help="records to ingest")
    parser.add_argument("--workers", type=int, default=2, help="workers for the parallel runs")
    parser.add_argument("--dir", type=Path, help="keep the corpus and stores here")
    options = parser.parse_args()

    folder = options.dir or Path(tempfile.mkdtemp(prefix="minemig-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"Generating {options.records:,} + {options.ingest_records:,} records in {folder} ...")
    small, big = make_corpus(folder, options.records, options.ingest_records)

    import spacy

    from minemig.models import Article
    from minemig.nlp import article_text, build_reader
    from minemig.parse import iter_records

    articles = [r for r in iter_records(small) if isinstance(r, Article)]
    texts = [article_text(a) for a in articles]
    n = len(texts)
    topic = topic_files()
    reader = build_reader(topic.gazetteer_files, topic.abbreviation_files, model="none")
    reader.nlp  # noqa: B018  built before timing, as the reference stack is

    print(
        f"\nminemig benchmark: {n:,} abstracts (mean {words(articles):.0f} words) on"
        f" {psutil.cpu_count()} CPUs; Python {platform.python_version()}, spaCy"
        f" {spacy.__version__}, pipeline {reader.version}"
    )
    from scispacy.custom_tokenizer import combined_rule_tokenizer

    tokenizer = combined_rule_tokenizer(spacy.blank("en"))
    stack = reference_stack()
    # Each stack reads a few abstracts first, so no measurement pays for first use (lazy
    # set-up, empty caches) and the order of the measurements does not matter.
    warm_up = texts[:WARM_UP]
    [tokenizer(t) for t in warm_up]
    list(stack.pipe(warm_up, batch_size=64))
    list(reader.read(articles[:WARM_UP]))
    # Best of ROUNDS rounds, taken in turn: noise from the machine only ever adds time.
    rounds: list[tuple[Measure, Measure, Measure]] = []
    for _ in range(ROUNDS):
        ceiling, _ = measure(lambda: [tokenizer(t) for t in texts])
        ref, _ = measure(lambda: sum(1 for _ in stack.pipe(texts, batch_size=64)))
        full, sha_one = measure(lambda: full_extraction(small, reader, folder / "one.jsonl"))
        rounds.append((ceiling, ref, full))
    fastest = [min(column, key=lambda m: m.seconds) for column in zip(*rounds, strict=True)]
    ceiling, ref, full = fastest
    with reader.with_workers(options.workers) as parallel:
        multi, sha_multi = measure(lambda: full_extraction(small, parallel, folder / "multi.jsonl"))

    print(f"\nThroughput (same texts, one process unless said otherwise; best of {ROUNDS}):")
    print(row("scispaCy tokenizer alone (ceiling)", n, ceiling))
    print(row("reference stack: tokenizer, sentencizer, abbrev., ruler", n, ref))
    print(row("minemig full extraction (parse, NLP, findings, JSONL)", n, full))
    print(row(f"minemig full extraction, --workers {options.workers}", n, multi))
    print("\nRatios:")
    print(
        f"  full extraction / reference stack   {full.rate(n) / ref.rate(n):6.2f}   (target >= 0.5)"
    )
    print(f"  full extraction / tokenizer alone   {full.rate(n) / ceiling.rate(n):6.2f}")
    print(f"  reference stack / tokenizer alone   {ref.rate(n) / ceiling.rate(n):6.2f}")
    speedup = multi.rate(n) / full.rate(n)
    print(
        f"  --workers {options.workers} / one worker             {speedup:6.2f}   (target >= 1.6)"
    )
    same = "identical" if sha_one == sha_multi else "DIFFERENT"
    print(f"  findings of --workers {options.workers} and one worker: {same}")

    sample = texts[: min(1000, n)]
    times = component_times(reader, sample)
    total = sum(t for _, t in times)
    print(f"\nWhere the time goes (minemig's pipeline, first {len(sample):,} abstracts):")
    for name, seconds in times:
        print(
            f"  {name:<48} {1000 * seconds / len(sample):7.2f} ms/abstract  {seconds / total:5.1%}"
        )

    env = {**os.environ, "MINEMIG_DATA_DIR": str(folder / "data")}
    db = folder / "bench.sqlite"
    for leftover in folder.glob("bench.sqlite*"):
        leftover.unlink()
    args = [str(big), "--db", str(db), "--workers", str(options.workers)]
    command = f"minemig ingest --workers {options.workers}"
    print(f"\nIngest of a {options.ingest_records:,}-record file ({command}):")
    runs = []
    for label in ("first run ", "second run"):
        m, run = measure(lambda: run_ingest(args, env))
        print(
            f"  {label} {run.seconds:7.1f} s  {m.cores:.2f} cores  peak RSS"
            f" {run.peak_rss / 2**20:,.0f} MiB (all its processes){_others(m)}"
        )
        print(f"             {run.summary}")
        runs.append(run)
    first, second = runs
    print(f"  peak RSS of the first run {first.peak_rss / 2**20:,.0f} MiB (target < 1024 MiB)")
    print(f"  second run is {first.seconds / second.seconds:,.0f}x faster (target >= 20)")


def _others(m: Measure) -> str:
    """Other processes' share of the CPUs, when large enough to lower the figures."""
    return f"  (other processes took {m.cpu_others:.0%} of the CPUs)" if m.cpu_others > 0.05 else ""


if __name__ == "__main__":
    main()

"""The ``minemig`` command line: the only place that catches errors and prints them.

Exit status: 0 done (also when nothing is new), 1 failed, 2 usage error. Errors
are one line on stderr; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any, TextIO, TypeVar

import click

from minemig import __version__
from minemig.errors import MinemigError, UsageError

log = logging.getLogger("minemig")
F = TypeVar("F", bound=Callable[..., Any])

_DATE_FORMATS = (
    (re.compile(r"^(\d{4})$"), 1),
    (re.compile(r"^(\d{4})[/-](\d{1,2})$"), 2),
    (re.compile(r"^(\d{4})[/-](\d{1,2})[/-](\d{1,2})$"), 3),
)


def parse_pubmed_date(value: str | None, option: str) -> str | None:
    """YYYY, YYYY/MM or YYYY/MM/DD (or with dashes), checked, as NCBI wants it: YYYY/MM/DD."""
    if value is None:
        return None
    text = value.strip()
    for pattern, parts in _DATE_FORMATS:
        match = pattern.match(text)
        if not match:
            continue
        numbers = [int(g) for g in match.groups()]
        full = numbers + [1] * (3 - parts)
        try:
            date(*full)
        except ValueError:
            break
        if full[0] < 1800:
            break
        return "/".join([f"{numbers[0]:04d}", *(f"{n:02d}" for n in numbers[1:])])
    raise UsageError(f"{option} {value!r} is not a date (use YYYY, YYYY/MM or YYYY/MM/DD)")


def common_options(func: F) -> F:
    """--db, --pipeline and --debug on every command, as DESIGN.md's contract says."""
    func = click.option("--debug", is_flag=True, help="Show the full traceback of an error.")(func)
    func = click.option(
        "--pipeline",
        "pipeline_name",
        default="migrasome",
        show_default=True,
        help="Topic to use: a name from pipelines/ or a path to a .toml file.",
    )(func)
    func = click.option(
        "--db",
        "db_path",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="SQLite database (default: $MINEMIG_DB or the data directory).",
    )(func)
    return func


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="minemig")
def cli() -> None:
    """Keep knowledge about migrasomes current from new PubMed literature.

    Example: minemig update --digest-dir ~/digests
    """


def _open_store(db_path: Path | None) -> Any:
    from minemig.settings import default_db_path
    from minemig.store import Store

    return Store(db_path or default_db_path())


def _reader_for(topic: Any) -> Any:
    from minemig.nlp import build_reader
    from minemig.settings import data_dir

    # Vocabularies installed with `minemig vocab` live in the data directory; with none
    # installed the reader (and its version string) is the gazetteer's alone.
    return build_reader(
        topic.gazetteer_files,
        topic.abbreviation_files,
        topic.model,
        batch_size=topic.nlp_batch_size,
        vocabulary_dir=data_dir(),
    )


def workers_option(func: F) -> F:
    """--workers on the commands that read articles."""
    return click.option(
        "--workers",
        type=click.IntRange(min=1),
        default=1,
        show_default=True,
        help="Read articles with this many processes (at most one per CPU core).",
    )(func)


@contextmanager
def _progress(label: str, total: int | None = None) -> Iterator[Callable[[int], None]]:
    """A progress bar on a terminal; silence when stderr is a file, a pipe or cron."""
    if not sys.stderr.isatty():
        yield lambda n: None
        return
    with click.progressbar(length=total or 0, label=label, file=sys.stderr, show_pos=True) as bar:
        yield bar.update


def _emit(text: str, out: TextIO | None = None) -> None:
    click.echo(text, file=out or sys.stdout, nl=False)


# -- ingest ---------------------------------------------------------------------------


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--no-findings", is_flag=True, help="Store the articles without reading them.")
@workers_option
@common_options
def ingest(
    files: tuple[Path, ...],
    no_findings: bool,
    workers: int,
    db_path: Path | None,
    pipeline_name: str,
    debug: bool,
) -> None:
    """Load PubMed XML files (.xml, .xml.gz, or folders of them) into the store.

    Example: minemig ingest pubmed25n1001.xml.gz efetch-batch.xml
    """
    from minemig.orchestrate import ingest as run_ingest
    from minemig.topic import load_topic

    topic = load_topic(pipeline_name)
    if no_findings:
        with _open_store(db_path) as store, _progress("ingest") as advance:
            tally = run_ingest(store, list(files), None, topic.name, progress=advance)
    else:
        with (
            _reader_for(topic).with_workers(workers) as reader,
            _open_store(db_path) as store,
            _progress("ingest") as advance,
        ):
            tally = run_ingest(store, list(files), reader, topic.name, progress=advance)
    click.echo(tally.summary("ingest"))


# -- search ---------------------------------------------------------------------------


@cli.command()
@click.argument("query")
@click.option("--mindate", help="Earliest entry date: YYYY, YYYY/MM or YYYY/MM/DD.")
@click.option("--maxdate", help="Latest entry date: YYYY, YYYY/MM or YYYY/MM/DD.")
@click.option(
    "--max",
    "max_records",
    type=click.IntRange(min=1),
    default=None,
    help="Fetch at most this many records (newest first).",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["md", "jsonl", "csv"]),
    default="md",
    show_default=True,
)
@workers_option
@common_options
def search(
    query: str,
    mindate: str | None,
    maxdate: str | None,
    max_records: int | None,
    output_format: str,
    workers: int,
    db_path: Path | None,
    pipeline_name: str,
    debug: bool,
) -> None:
    """Search PubMed, store the records and their findings, and report the findings.

    Example: minemig search "migrasome AND neutrophil" --mindate 2024
    """
    from minemig.baseline import load_baseline
    from minemig.fetch import EutilsClient
    from minemig.orchestrate import search as run_search
    from minemig.settings import NcbiSettings
    from minemig.store import finding_from_row
    from minemig.topic import load_topic

    if not query.strip():
        raise UsageError("the query is empty; give PubMed search terms, e.g. migrasome*[tw]")
    mindate = parse_pubmed_date(mindate, "--mindate")
    maxdate = parse_pubmed_date(maxdate, "--maxdate")
    topic = load_topic(pipeline_name)
    baseline = load_baseline(topic.baseline_path)
    with (
        _reader_for(topic).with_workers(workers) as reader,
        EutilsClient(NcbiSettings.from_env()) as client,
        _open_store(db_path) as store,
        _progress("search") as advance,
    ):
        tally, pmids = run_search(
            store,
            client,
            query,
            reader,
            topic.name,
            mindate=mindate,
            maxdate=maxdate,
            max_records=max_records,
            batch_size=topic.batch_size,
            progress=advance,
        )
        rows = store.findings_of(pmids, reader.version)
    findings = baseline.with_status(map(finding_from_row, rows), topic.watched_ev_types)
    _write_findings(findings, output_format, f"PubMed search: {query}")
    click.echo(tally.summary("search"), err=True)


# -- extract --------------------------------------------------------------------------


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["jsonl", "csv", "md"]),
    default="jsonl",
    show_default=True,
)
@workers_option
@common_options
def extract(
    files: tuple[Path, ...],
    output_format: str,
    workers: int,
    db_path: Path | None,
    pipeline_name: str,
    debug: bool,
) -> None:
    """Print the findings of the articles in PubMed XML files (no store, no network).

    Example: minemig extract efetch.xml --format csv
    """
    from dataclasses import replace

    from minemig.baseline import load_baseline
    from minemig.orchestrate import extract as run_extract
    from minemig.topic import load_topic

    topic = load_topic(pipeline_name)
    baseline = load_baseline(topic.baseline_path)
    watched = topic.watched_ev_types
    with _reader_for(topic).with_workers(workers) as reader:
        # A generator, so jsonl and csv are written as the files are read.
        findings = (
            replace(finding, status=baseline.status(finding, watched))
            for finding in run_extract(
                list(files), reader, lambda message: log.warning("%s", message)
            )
        )
        _write_findings(findings, output_format, f"Findings in {len(files)} file(s)")


def _write_findings(findings: Any, output_format: str, title: str) -> None:
    from minemig.report import (
        FINDING_FIELDS,
        finding_record,
        findings_markdown,
        write_csv,
        write_jsonl,
    )

    if output_format == "md":
        _emit(findings_markdown(findings, title))
    elif output_format == "csv":
        write_csv((finding_record(f) for f in findings), FINDING_FIELDS, sys.stdout)
    else:
        write_jsonl((finding_record(f) for f in findings), sys.stdout)


# -- export ---------------------------------------------------------------------------


@cli.command()
@click.argument("what", type=click.Choice(["articles", "findings"]))
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["jsonl", "csv"]),
    default="jsonl",
    show_default=True,
)
@common_options
def export(
    what: str, output_format: str, db_path: Path | None, pipeline_name: str, debug: bool
) -> None:
    """Print what the store holds: articles, or findings with their status.

    Example: minemig export findings --format csv > findings.csv
    """
    from minemig.report import ARTICLE_FIELDS, FINDING_FIELDS, write_csv, write_jsonl

    with _open_store(db_path) as store:
        if what == "articles":
            rows: Any = ({k: a[k] for k in ARTICLE_FIELDS} for a in store.iter_articles())
            fields: tuple[str, ...] = ARTICLE_FIELDS
        else:
            rows = _stored_findings(store, pipeline_name)
            fields = (*FINDING_FIELDS, "pub_date", "pipeline_version")
        if output_format == "csv":
            write_csv(rows, fields, sys.stdout)
        else:
            write_jsonl(({k: row.get(k) for k in fields} for row in rows), sys.stdout)


def _stored_findings(store: Any, pipeline_name: str) -> Iterator[dict[str, Any]]:
    """Stored findings with their status against the topic's baseline, computed now."""
    from minemig.baseline import load_baseline
    from minemig.store import finding_from_row
    from minemig.topic import load_topic

    topic = load_topic(pipeline_name)
    baseline = load_baseline(topic.baseline_path)
    for row in store.iter_findings():
        row["status"] = baseline.status(finding_from_row(row), topic.watched_ev_types)
        yield row


# -- baseline -------------------------------------------------------------------------


@cli.command("baseline")
@click.option(
    "--format", "output_format", type=click.Choice(["md", "csv"]), default="md", show_default=True
)
@common_options
def baseline_command(
    output_format: str, db_path: Path | None, pipeline_name: str, debug: bool
) -> None:
    """Print the baseline claims the topic's findings are compared with.

    Example: minemig baseline --format csv
    """
    from minemig.baseline import COLUMNS, load_baseline
    from minemig.report import escape_markdown, write_csv
    from minemig.topic import load_topic

    topic = load_topic(pipeline_name)
    claims = load_baseline(topic.baseline_path).claims
    if output_format == "csv":
        write_csv(
            ({c: getattr(claim, c) for c in COLUMNS} for claim in claims), COLUMNS, sys.stdout
        )
        return
    lines = [
        f"# Baseline claims: {escape_markdown(topic.name)}",
        "",
        "| EV type | category | entity | id | size (nm) | kind | source |",
        "|---|---|---|---|---|---|---|",
    ]
    for claim in claims:
        size = (
            f"{claim.min_nm:g}–{claim.max_nm:g}"
            if claim.min_nm is not None and claim.max_nm is not None
            else ""
        )
        lines.append(
            f"| {claim.ev_type} | {claim.category} | {escape_markdown(claim.entity)} |"
            f" {claim.entity_id} | {size} | {claim.kind} | {escape_markdown(claim.source)} |"
        )
    _emit("\n".join(lines) + "\n")


# -- update ---------------------------------------------------------------------------


@cli.command()
@click.option(
    "--digest-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where digests go (default: the topic's [digest] out_dir in the data directory).",
)
@click.option("--quiet", is_flag=True, help="Print nothing on success.")
@workers_option
@common_options
def update(
    digest_dir: Path | None,
    quiet: bool,
    workers: int,
    db_path: Path | None,
    pipeline_name: str,
    debug: bool,
) -> None:
    """Fetch what PubMed added since the last update, read it and write a digest.

    The cron entry point: one summary line on success (none with --quiet), exit 0
    also when nothing is new, one line on stderr and exit 1 on failure. Only one
    update runs per database at a time; a run that was killed is finished by the next.
    The digest is DIR/<pipeline>-<YYYY-MM-DD>.md.

    Example: minemig update --digest-dir ~/digests --quiet
    """
    from minemig.baseline import load_baseline
    from minemig.fetch import EutilsClient
    from minemig.lock import UpdateLock, lock_path_for
    from minemig.orchestrate import default_digest_dir
    from minemig.orchestrate import update as run_update
    from minemig.settings import NcbiSettings, default_db_path
    from minemig.topic import load_topic

    if not debug:
        # Retries that succeed and PubMed's notes are kept with the run; cron mail is
        # for failures only.
        log.setLevel(logging.ERROR)
    topic = load_topic(pipeline_name)
    baseline = load_baseline(topic.baseline_path)
    db = (db_path or default_db_path()).expanduser()
    with (
        UpdateLock(lock_path_for(db)),
        _reader_for(topic).with_workers(workers) as reader,
        EutilsClient(NcbiSettings.from_env()) as client,
        _open_store(db) as store,
        _progress("update") as advance,
    ):
        result = run_update(
            store,
            client,
            topic,
            reader,
            baseline,
            (digest_dir or default_digest_dir(topic)).expanduser(),
            progress=advance,
        )
    if not quiet:
        click.echo(result.summary())


# -- digest ---------------------------------------------------------------------------


@cli.command()
@click.option("--since", help="First day (UTC) records were stored: YYYY, YYYY-MM or YYYY-MM-DD.")
@click.option("--until", help="Last day (UTC) records were stored: YYYY, YYYY-MM or YYYY-MM-DD.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the digest to this file instead of stdout.",
)
@common_options
def digest(
    since: str | None,
    until: str | None,
    out: Path | None,
    db_path: Path | None,
    pipeline_name: str,
    debug: bool,
) -> None:
    """Print a digest of the records stored (or revised) in a period.

    Dates are the days minemig stored a record or its latest revision, which for
    records fetched by `update` follows PubMed's entry date. Default: since the last
    digest. "New" means not reported by a digest made before the period. Nothing is
    marked as reported; only `update` does that.

    Example: minemig digest --since 2025-01 --until 2025-03 --out q1.md
    """
    from minemig.baseline import load_baseline
    from minemig.orchestrate import digest_between, write_digest_file
    from minemig.topic import load_topic

    first = _day_bound(since, "--since", end=False)
    last = _day_bound(until, "--until", end=True)
    if first and last and first > last:
        raise UsageError(f"--since {since} is after --until {until}")
    topic = load_topic(pipeline_name)
    baseline = load_baseline(topic.baseline_path)
    reader = _reader_for(topic)
    with _open_store(db_path) as store:
        markdown = digest_between(store, baseline, topic, reader, since=first, until=last)
    if out is None:
        _emit(markdown)
    else:
        write_digest_file(out, markdown, kept=False)


def _day_bound(value: str | None, option: str, *, end: bool) -> str | None:
    """A date option as the first (or last) UTC second it covers, in the store's format."""
    if value is None:
        return None
    parts = [int(p) for p in (parse_pubmed_date(value, option) or "").split("/")]
    if not end:
        year, month, day = (*parts, 1, 1)[:3]
        return f"{date(year, month, day).isoformat()}T00:00:00+00:00"
    year, month = parts[0], (parts[1] if len(parts) > 1 else 12)
    if len(parts) == 3:
        last = date(year, month, parts[2])
    else:  # the day before the first of the next month
        last = date.fromordinal(date(year + month // 12, month % 12 + 1, 1).toordinal() - 1)
    return f"{last.isoformat()}T23:59:59+00:00"


# -- vocab ----------------------------------------------------------------------------

VOCABULARY_NAMES = ("hgnc", "go", "cl", "doid")


def _debug_option(func: F) -> F:
    """--debug alone: the vocabulary commands use neither a database nor a topic."""
    option = click.option("--debug", is_flag=True, help="Show the full traceback of an error.")
    return option(func)


@cli.group()
def vocab() -> None:
    """Public vocabularies in the data directory: HGNC genes, GO processes, CL, DOID.

    Installed vocabularies are compiled once and used by every later reading: genes,
    cell types, processes and diseases that no gazetteer lists are found and given their
    HGNC symbol or ontology id.

    Example: minemig vocab fetch hgnc cl
    """


@vocab.command("fetch")
@click.argument("names", nargs=-1, type=click.Choice(VOCABULARY_NAMES))
@_debug_option
def vocab_fetch(names: tuple[str, ...], debug: bool) -> None:
    """Download the current release of each vocabulary (all four by default) and install it.

    MINEMIG_VOCAB_URL_<NAME> (e.g. MINEMIG_VOCAB_URL_HGNC) replaces an address.

    Example: minemig vocab fetch hgnc doid
    """
    from minemig.errors import VocabularyError
    from minemig.vocab.download import fetch_vocabulary

    failures = []
    for name in dict.fromkeys(names or VOCABULARY_NAMES):
        try:
            info = fetch_vocabulary(name)
        except VocabularyError as exc:
            if len(names or VOCABULARY_NAMES) == 1:
                raise
            failures.append(exc.message)
            continue
        click.echo(_installed_line(info))
    if failures:
        raise VocabularyError("; ".join(failures))


@vocab.command("install")
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@_debug_option
def vocab_install(files: tuple[Path, ...], debug: bool) -> None:
    """Install local copies of vocabulary releases (plain or .gz), for machines offline.

    Each file is recognised by its content: HGNC's hgnc_complete_set.txt, or the OBO
    file of GO basic, the Cell Ontology basic or the Human Disease Ontology.

    Example: minemig vocab install hgnc_complete_set.txt go-basic.obo.gz
    """
    from minemig.vocab import install_file

    for path in files:
        click.echo(_installed_line(install_file(path)))


@vocab.command("list")
@_debug_option
def vocab_list(debug: bool) -> None:
    """Show the installed vocabularies: release, terms, forms, sha256 and where from.

    Example: minemig vocab list
    """
    from minemig.vocab import installed_vocabularies, vocab_dir

    infos = installed_vocabularies()
    if not infos:
        click.echo(
            f"No vocabulary installed in {vocab_dir()}; "
            "run `minemig vocab fetch` or `minemig vocab install FILE`."
        )
        return
    for info in infos:
        click.echo(
            f"{info.name:<5} {info.version:<10} {info.terms:>7,} terms {info.forms:>8,} forms"
            f"  sha256 {info.sha256}  {info.source}  (installed {info.installed})"
        )


def _installed_line(info: Any) -> str:
    return (
        f"{info.name}: installed release {info.version} ({info.terms:,} terms,"
        f" {info.forms:,} forms; sha256 {info.sha256[:12]})"
    )


# -- entry point ----------------------------------------------------------------------


def _configure_logging(debug: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("minemig: %(message)s"))
    log.handlers[:] = [handler]
    # On a terminal a person is watching: say which reader is used and when a request is
    # retried. From cron (no terminal) only warnings and errors, so mail means trouble.
    interactive = sys.stderr.isatty()
    log.setLevel(logging.DEBUG if debug else logging.INFO if interactive else logging.WARNING)
    log.propagate = False


@contextmanager
def _broken_pipe_is_success() -> Iterator[None]:
    """`minemig export ... | head` is not an error. click turns a broken pipe into exit 1
    itself, so the pipe is checked where click reports it."""
    try:
        yield
    except SystemExit as exc:
        if exc.code == 1 and _stdout_is_broken():
            raise SystemExit(0) from None
        raise


def _stdout_is_broken() -> bool:
    if type(sys.stdout).__name__.endswith("PacifyFlushWrapper"):
        return True  # click met EPIPE and wrapped stdout before exiting 1
    try:
        sys.stdout.flush()
    except (BrokenPipeError, ValueError):
        # Point stdout at /dev/null so Python's own flush at exit cannot complain again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return True
    return False


def main(argv: list[str] | None = None) -> None:
    """Run the CLI and turn every error into one line and an exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    _configure_logging(debug)
    try:
        with _broken_pipe_is_success():
            cli.main(args=args, prog_name="minemig", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Error: interrupted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        click.echo(f"Error: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    except UsageError as exc:
        if debug:
            traceback.print_exc()
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)
    except MinemigError as exc:
        if debug:
            traceback.print_exc()
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        click.echo("Error: interrupted", err=True)
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(0)  # `minemig export ... | head` is not an error
    except Exception as exc:  # the last line of defence: one line, never a traceback
        if debug:
            traceback.print_exc()
        click.echo(
            f"Error: internal error: {type(exc).__name__}: {exc} (run with --debug for details)",
            err=True,
        )
        sys.exit(1)
    sys.exit(0)

"""Build the reading pipeline from ``config.cfg``: rules by default, a scispaCy model if installed.

``build_reader(topic files)`` returns a :class:`Reader` whose ``read`` turns articles
into findings; nothing here does I/O beyond loading the pipeline's own data.
"""

from __future__ import annotations

import gc
import hashlib
import logging
import multiprocessing
import os
import signal
import warnings
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any

import spacy
from spacy.language import Language
from spacy.tokens import Doc
from spacy.util import load_config, load_model_from_config

from minemig import lexicon, mentions, relate, sizes
from minemig.errors import ConfigError, MinemigError
from minemig.gazetteer import Gazetteer
from minemig.models import Article, Finding
from minemig.nlp import components as _components  # registers the factories, and is a rule
from minemig.nlp import tokenizer as _tokenizer
from minemig.nlp import vocabulary as _vocabulary
from minemig.nlp.components import PMID_KEY
from minemig.nlp.gazetteer_patterns import cached_gazetteer
from minemig.relate import RULES_VERSION
from minemig.vocab import Vocabularies, load_installed_vocabularies

CONFIG_PATH = Path(__file__).with_name("config.cfg")
# Tried in order when the topic asks for model = "auto".
KNOWN_MODELS = (
    "en_ner_bionlp13cg_md",
    "en_core_sci_md",
    "en_core_sci_sm",
    "en_core_sci_lg",
    "en_core_sci_scibert",
)
OUR_COMPONENTS = ("abbreviation_detector", "entity_ruler", "minemig_mentions", "minemig_findings")

# Everything that turns a text into findings besides the gazetteer, the model and the
# vocabularies (versioned on their own): findings stored by other rules are read again.
RULE_SOURCES = (
    *(
        Path(str(module.__file__))
        for module in (relate, mentions, lexicon, sizes, _tokenizer, _components, _vocabulary)
    ),
    CONFIG_PATH,
)

log = logging.getLogger("minemig")
_said_rules_only = False


@cache
def rules_version() -> str:
    """The rules' name and a fingerprint of their source (:data:`RULE_SOURCES`): an upgrade
    that changes how text is read changes the pipeline version, so nothing stored by the old
    rules is kept."""
    return versioned_rules(RULE_SOURCES)


def versioned_rules(sources: Iterable[Path]) -> str:
    digest = hashlib.sha256()
    for path in sources:
        digest.update(path.read_bytes())
    return f"{RULES_VERSION}.{digest.hexdigest()[:12]}"


def article_text(article: Article) -> str:
    """Title and abstract, one paragraph per line, as the pipeline reads them."""
    return "\n".join(part for part in (article.title, article.abstract) if part)


def resolve_model(requested: str) -> str:
    """'' for rules only, else the installed model name or path to load."""
    requested = os.environ.get("MINEMIG_SCISPACY_MODEL", requested) or "none"
    if requested == "none":
        return ""
    if requested == "auto":
        return next((name for name in KNOWN_MODELS if spacy.util.is_package(name)), "")
    if spacy.util.is_package(requested) or Path(requested).is_dir():
        return requested
    raise ConfigError(
        f"scispaCy model {requested!r} is not installed (pip install the model's package, "
        'or set model = "auto" to use any installed one)'
    )


def build_nlp(
    gazetteer_files: Sequence[Path],
    abbreviation_files: Sequence[Path] = (),
    model: str = "",
    vocabulary_dir: str = "",
) -> Language:
    """The pipeline: config.cfg's rules pipeline, or ``model`` with the same components added;
    ``vocabulary_dir`` is a data folder whose installed public vocabularies are read too."""
    paths = {
        "paths.gazetteers": [str(p) for p in gazetteer_files],
        "paths.abbreviations": [str(p) for p in abbreviation_files],
        "paths.vocabulary_dir": vocabulary_dir or None,
    }
    config = load_config(CONFIG_PATH, overrides=paths, interpolate=False)
    with warnings.catch_warnings():
        # scispaCy's tokenizer regexes trip a FutureWarning in re; harmless here.
        warnings.simplefilter("ignore", FutureWarning)
        if not model:
            nlp = load_model_from_config(config, auto_fill=True, validate=True)
            nlp.initialize()
            return nlp
        nlp = spacy.load(model)
        nlp.tokenizer = _tokenizer.minemig_tokenizer(nlp)
    interpolated = config.interpolate()
    if "parser" not in nlp.pipe_names and "senter" not in nlp.pipe_names:
        nlp.add_pipe("sentencizer", first=True)
        nlp.add_pipe("minemig_paragraphs", after="sentencizer")
    else:
        nlp.add_pipe(
            "minemig_paragraphs", before="parser" if "parser" in nlp.pipe_names else "senter"
        )
    for name in OUR_COMPONENTS:
        block = {k: v for k, v in interpolated["components"][name].items() if k != "factory"}
        nlp.add_pipe(interpolated["components"][name]["factory"], name=name, config=block)
    ruler = nlp.get_pipe("entity_ruler")
    ruler.add_patterns(  # type: ignore[attr-defined]
        cached_gazetteer(
            tuple(str(p) for p in gazetteer_files), tuple(str(p) for p in abbreviation_files)
        ).patterns()
    )
    return nlp


# Articles one worker reads per task: large enough that sending them and their findings
# between processes is cheap next to reading them, small enough to spread a batch evenly.
WORKER_CHUNK = 32


@dataclass
class Reader:
    """Articles in, findings out, with the version string that produced them.

    The spaCy pipeline is built on first use, so a run with nothing new to read never
    builds it. With ``workers`` > 1, worker processes read, each with its own pipeline built
    from the same files; use the reader as a context manager (or call :meth:`close`) to
    stop them.
    """

    gazetteer_files: tuple[str, ...]
    abbreviation_files: tuple[str, ...]
    model: str
    batch_size: int = 64
    workers: int = 1
    vocabulary_dir: str = ""  # a data folder with installed vocabularies; "" for none
    _nlp: Language | None = field(default=None, repr=False, compare=False)
    _pool: ProcessPoolExecutor | None = field(default=None, repr=False, compare=False)

    @property
    def gazetteer(self) -> Gazetteer:
        return cached_gazetteer(self.gazetteer_files, self.abbreviation_files)

    @property
    def nlp(self) -> Language:
        if self._nlp is None:
            self._nlp = build_nlp(
                [Path(p) for p in self.gazetteer_files],
                [Path(p) for p in self.abbreviation_files],
                self.model,
                self.vocabulary_dir,
            )
            _set_aside_from_collector()
        return self._nlp

    @property
    def version(self) -> str:
        model = self.model.replace("/", "_") if self.model else "none"
        version = f"{rules_version()}+gazetteer.{self.gazetteer.version}+model.{model}"
        vocabularies = self.vocabularies
        return f"{version}+vocab.{vocabularies.version}" if vocabularies else version

    @property
    def vocabularies(self) -> Vocabularies | None:
        """The installed public vocabularies this reader uses (loaded once per process)."""
        if not self.vocabulary_dir:
            return None
        return load_installed_vocabularies(Path(self.vocabulary_dir))

    def gazetteer_terms(self) -> dict[str, Any]:
        """The gazetteer as data, kept with the findings of this version so that a later
        version can tell which terms changed (see :meth:`unaffected`)."""
        gazetteer = self.gazetteer
        return {
            "concepts": {
                c.id: [c.name, c.category, list(c.synonyms)] for c in gazetteer.concepts.values()
            },
            "abbreviations": [[a.short, a.long, a.id, a.note] for a in gazetteer.abbreviations],
        }

    def can_reuse(self, version: str) -> bool:
        """Whether findings of ``version`` may stand for this reader's where the text has no
        changed term: the same rules, model and public vocabularies, another gazetteer."""
        gazetteer_part = f"+gazetteer.{self.gazetteer.version}+"
        rules, _, model = self.version.partition(gazetteer_part)
        return (
            version != self.version
            and version.startswith(rules + "+gazetteer.")
            and version.endswith("+" + model)
        )

    def unaffected(self, earlier: dict[str, Any], articles: Iterable[Article]) -> set[str]:
        """PMIDs of the articles whose findings cannot differ between the gazetteer terms
        ``earlier`` (of an earlier version, see :meth:`can_reuse`) and this reader's own.

        The gazetteer reaches a document only through terms in its text: the ruler's
        phrases, the concepts those phrases name, and curated abbreviations looked up by
        their short or long form. So a text in which no term of a concept or abbreviation
        that differs between the two gazetteers occurs, even as a substring with case,
        spaces and punctuation ignored, reads the same under both.
        """
        terms = _changed_terms(earlier, self.gazetteer_terms())
        unaffected = set()
        for article in articles:
            text = _comparable(article_text(article))
            if not any(term in text for term in terms):
                unaffected.add(article.pmid)
        return unaffected

    def with_workers(self, workers: int) -> Reader:
        """This reader, reading with ``workers`` processes (itself when that is no change)."""
        if workers == self.workers:
            return self
        return replace(self, workers=workers, _pool=None)

    def read(self, articles: Iterable[Article]) -> Iterator[tuple[Article, list[Finding]]]:
        """Each article with its findings, in order, reading as the articles come in."""
        if self.workers <= 1:
            yield from self._read_here(articles)
            return
        for results in self.read_batches(_chunks(articles, WORKER_CHUNK * self.workers * 2)):
            yield from results

    def read_batches(
        self, batches: Iterable[Sequence[Article]]
    ) -> Iterator[list[tuple[Article, list[Finding]]]]:
        """One list of (article, findings) per batch, in order; a batch may be empty.

        With workers, the next batches are handed out while the caller handles one, so
        storing a batch overlaps reading the next; the batches taken ahead are bounded,
        which keeps memory bounded however long the input.
        """
        if self.workers <= 1:
            for batch in batches:
                yield list(self._read_here(batch))
            return
        pool = self._start_pool()
        ahead: deque[tuple[Sequence[Article], list[Future[list[list[Finding]]]]]] = deque()
        try:
            for batch in batches:
                tasks = [
                    pool.submit(_read_in_worker, list(chunk))
                    for chunk in _chunks(batch, WORKER_CHUNK)
                ]
                ahead.append((batch, tasks))
                if len(ahead) > self.workers:
                    yield _collect(*ahead.popleft())
            while ahead:
                yield _collect(*ahead.popleft())
        finally:
            for _batch, tasks in ahead:
                for task in tasks:
                    task.cancel()

    def _read_here(self, articles: Iterable[Article]) -> Iterator[tuple[Article, list[Finding]]]:
        nlp = self.nlp
        # Parsing a few batches of records in one go, rather than one record between two
        # Docs, keeps the parser's and the pipeline's code each in the CPU's caches.
        ahead = (article for chunk in _chunks(articles, 4 * self.batch_size) for article in chunk)
        pairs = ((self._made_doc(nlp, a), a) for a in ahead)
        for doc, article in nlp.pipe(pairs, as_tuples=True, batch_size=self.batch_size):
            yield article, doc._.findings or []

    @staticmethod
    def _made_doc(nlp: Language, article: Article) -> Doc:
        """The article's tokens, with its PMID for the findings the pipeline makes of them."""
        doc = nlp.make_doc(article_text(article))
        doc.user_data[PMID_KEY] = article.pmid
        return doc

    def _start_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # spawn, not fork: a forked child would inherit the parent's threads (an HTTP
            # client, a test server) and open SQLite handles; spawned workers build their own
            # pipeline from the same files instead of unpickling this one.
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_worker,
                initargs=(
                    self.gazetteer_files,
                    self.abbreviation_files,
                    self.model,
                    self.batch_size,
                    self.vocabulary_dir,
                ),
            )
        return self._pool

    def close(self) -> None:
        """Stop the worker processes, if any were started."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> Reader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _changed_terms(old: dict[str, Any], new: dict[str, Any]) -> set[str]:
    """Every term of a concept or abbreviation that one gazetteer has and the other has not
    exactly so, in :func:`_comparable` form."""
    terms: set[str] = set()
    for concept_id in old["concepts"].keys() | new["concepts"].keys():
        before, after = old["concepts"].get(concept_id), new["concepts"].get(concept_id)
        if before != after:
            for entry in (before, after):
                if entry is not None:
                    terms.update(_comparable(t) for t in (entry[0], *entry[2]))
    rows_before = {tuple(row) for row in old["abbreviations"]}
    rows_after = {tuple(row) for row in new["abbreviations"]}
    for short, long, *_rest in rows_before ^ rows_after:
        terms.update((_comparable(short), _comparable(long)))
    return terms


def _comparable(text: str) -> str:
    """Letters and digits only, case folded: a term matched in a text, whatever its case,
    spacing or hyphenation, is a substring of the text in this form. (A term with neither
    letters nor digits becomes '', which every text contains.)"""
    return "".join(ch for ch in text.casefold().replace("ς", "σ") if ch.isalnum())


def _chunks(items: Iterable[Article], size: int) -> Iterator[list[Article]]:
    chunk: list[Article] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _collect(
    batch: Sequence[Article], tasks: list[Future[list[list[Finding]]]]
) -> list[tuple[Article, list[Finding]]]:
    try:
        found = [findings for task in tasks for findings in task.result()]
    except BrokenProcessPool:
        raise MinemigError(
            "a reading worker process died (out of memory?); run again with fewer --workers"
        ) from None
    return list(zip(batch, found, strict=True))


_worker_reader: Reader | None = None


def _set_aside_from_collector() -> None:
    """Keep the cyclic garbage collector off a pipeline just built.

    The pipeline, its gazetteer and vocabularies (about 100,000 objects) live as long as
    the reader, while reading allocates many short-lived containers, so the collector runs
    often, and each full collection would walk them all again. What is garbage now is
    collected, and what is left is frozen (``gc.freeze``): once per pipeline built, so what
    is set aside stays bounded however much is read.
    """
    gc.collect()
    gc.freeze()


def _start_worker(
    gazetteer_files: tuple[str, ...],
    abbreviation_files: tuple[str, ...],
    model: str,
    batch_size: int,
    vocabulary_dir: str,
) -> None:
    """Set up a worker process: its own reader, and Ctrl-C left to the parent, which stops
    the workers itself."""
    global _worker_reader
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _leave_with_parent()
    _worker_reader = Reader(
        gazetteer_files, abbreviation_files, model, batch_size, vocabulary_dir=vocabulary_dir
    )
    _worker_reader.nlp  # noqa: B018  built now, while the parent is still parsing


def _leave_with_parent() -> None:
    """End this worker when its parent ends, however it ends. A parent killed with SIGKILL
    (cron's timeout, the OOM killer) never stops its pool, and the task queue never tells a
    worker, which would wait for tasks forever."""
    import threading

    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        parent.join()  # returns when the parent's end of the spawn pipe closes
        os._exit(1)

    threading.Thread(target=watch, name="minemig-parent-watch", daemon=True).start()


def _read_in_worker(articles: list[Article]) -> list[list[Finding]]:
    assert _worker_reader is not None, "_start_worker runs first in every worker"
    return [findings for _, findings in _worker_reader.read(articles)]


def build_reader(
    gazetteer_files: Sequence[Path],
    abbreviation_files: Sequence[Path] = (),
    model: str = "auto",
    *,
    batch_size: int = 64,
    workers: int = 1,
    vocabulary_dir: Path | None = None,
) -> Reader:
    """A reader for these gazetteers (and the public vocabularies installed under
    ``vocabulary_dir``, if any); ``model`` is resolved (and checked) now, the pipeline
    itself is built on first use."""
    global _said_rules_only
    resolved = resolve_model(model)
    if not resolved and not _said_rules_only:
        log.info("no scispaCy model installed: reading with rules and gazetteers only")
        _said_rules_only = True
    reader = Reader(
        tuple(str(p) for p in gazetteer_files),
        tuple(str(p) for p in abbreviation_files),
        resolved,
        batch_size,
        workers,
        str(vocabulary_dir) if vocabulary_dir else "",
    )
    reader.gazetteer  # noqa: B018  a broken gazetteer file is reported before any work
    reader.vocabularies  # noqa: B018  and so is a damaged vocabulary installation
    return reader

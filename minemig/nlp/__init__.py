"""Build the reading pipeline from ``config.cfg``: rules by default, a scispaCy model if installed.

``build_reader(topic files)`` returns a :class:`Reader` whose ``read`` turns articles
into findings; nothing here does I/O beyond loading the pipeline's own data.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import spacy
from spacy.language import Language
from spacy.util import load_config, load_model_from_config

from minemig.errors import ConfigError
from minemig.gazetteer import Gazetteer
from minemig.models import Article, Finding
from minemig.nlp import components as _components  # noqa: F401  registers the factories
from minemig.nlp import tokenizer as _tokenizer
from minemig.nlp.gazetteer_patterns import cached_gazetteer
from minemig.relate import RULES_VERSION

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

log = logging.getLogger("minemig")
_said_rules_only = False


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
    gazetteer_files: Sequence[Path], abbreviation_files: Sequence[Path] = (), model: str = ""
) -> Language:
    """The pipeline: config.cfg's rules pipeline, or ``model`` with the same components added."""
    global _said_rules_only
    paths = {
        "paths.gazetteers": [str(p) for p in gazetteer_files],
        "paths.abbreviations": [str(p) for p in abbreviation_files],
    }
    config = load_config(CONFIG_PATH, overrides=paths, interpolate=False)
    with warnings.catch_warnings():
        # scispaCy's tokenizer regexes trip a FutureWarning in re; harmless here.
        warnings.simplefilter("ignore", FutureWarning)
        if not model:
            if not _said_rules_only:
                log.info("no scispaCy model installed: reading with rules and gazetteers only")
                _said_rules_only = True
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
            tuple(paths["paths.gazetteers"]), tuple(paths["paths.abbreviations"])
        ).patterns()
    )
    return nlp


@dataclass
class Reader:
    """Articles in, findings out, with the version string that produced them."""

    nlp: Language
    gazetteer: Gazetteer
    model: str
    batch_size: int = 64

    @property
    def version(self) -> str:
        model = self.model.replace("/", "_") if self.model else "none"
        return f"{RULES_VERSION}+gazetteer.{self.gazetteer.version}+model.{model}"

    def read(self, articles: Iterable[Article]) -> Iterator[tuple[Article, list[Finding]]]:
        pairs = ((article_text(a), a) for a in articles)
        docs = self.nlp.pipe(pairs, as_tuples=True, batch_size=self.batch_size)
        for doc, article in docs:
            findings = [replace(f, pmid=article.pmid) for f in doc._.findings or []]
            yield article, findings


def build_reader(
    gazetteer_files: Sequence[Path], abbreviation_files: Sequence[Path] = (), model: str = "auto"
) -> Reader:
    resolved = resolve_model(model)
    nlp = build_nlp(gazetteer_files, abbreviation_files, resolved)
    gazetteer = cached_gazetteer(
        tuple(str(p) for p in gazetteer_files), tuple(str(p) for p in abbreviation_files)
    )
    return Reader(nlp, gazetteer, resolved)

"""minemig's spaCy components: sentence starts at line breaks, mentions, findings.

Registered as factories here and exposed through the ``spacy_factories`` entry
point, so a config can name them without importing minemig first.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import scispacy.abbreviation  # noqa: F401  registers the "abbreviation_detector" factory
from spacy.language import Language
from spacy.tokens import Doc
from spacy.util import minibatch

from minemig.mentions import collect_mentions, doc_text
from minemig.nlp.gazetteer_patterns import cached_gazetteer
from minemig.relate import findings_from_doc

# scispaCy's abbreviation detector warns (W036) on every abstract that defines nothing.
warnings.filterwarnings("ignore", message=r"\[W036\]", category=UserWarning)

# The PMID of the article a Doc was made from, if the reader put it there.
PMID_KEY = "minemig_pmid"

Doc.set_extension("minemig_mentions", default=None, force=True)
Doc.set_extension("findings", default=None, force=True)


@Language.component("minemig_paragraphs", assigns=["token.is_sent_start"])
def paragraph_breaks(doc: Doc) -> Doc:
    """A line break (title / abstract section) always starts a new sentence."""
    text = doc_text(doc)
    last_break = -1  # a token index
    position = text.find("\n")
    while position != -1:
        # Only the few line breaks are visited: making a Token for every word costs more.
        span = doc.char_span(position, position + 1, alignment_mode="expand")
        if span is not None and len(span) == 1 and span.start != last_break:
            token = span[0]
            last_break = token.i
            if token.is_space and token.i < len(doc) - 1:
                doc[token.i + 1].is_sent_start = True
                if token.i > 0:
                    token.is_sent_start = False  # the break closes a sentence, never is one
        position = text.find("\n", position + 1)
    return doc


class _Batched:
    """A component that ``nlp.pipe`` runs on a batch of Docs at a time, so its code and
    tables stay in the CPU's caches instead of alternating with every other component's."""

    def __call__(self, doc: Doc) -> Doc:
        raise NotImplementedError

    def pipe(self, docs: Iterable[Doc], batch_size: int = 64) -> Iterator[Doc]:
        for batch in minibatch(docs, size=batch_size):
            for doc in batch:
                self(doc)
            yield from batch


class MentionFinder(_Batched):
    def __init__(
        self, gazetteers: Sequence[str], abbreviations: Sequence[str], vocabulary_dir: str | None
    ) -> None:
        self.gazetteer = cached_gazetteer(tuple(gazetteers), tuple(abbreviations))
        # The installed public vocabularies, by folder so the pipeline's config (and any
        # worker process built from it) names them; None reads with the gazetteer alone.
        self.vocabularies = None
        if vocabulary_dir:
            from minemig.vocab import load_installed_vocabularies

            self.vocabularies = load_installed_vocabularies(Path(vocabulary_dir))

    def __call__(self, doc: Doc) -> Doc:
        doc._.minemig_mentions = collect_mentions(doc, self.gazetteer, self.vocabularies)
        return doc


@Language.factory(
    "minemig_mentions",
    assigns=["doc._.minemig_mentions"],
    default_config={"gazetteers": [], "abbreviations": [], "vocabulary_dir": None},
)
def make_mention_finder(
    nlp: Language,
    name: str,
    gazetteers: list[str],
    abbreviations: list[str],
    vocabulary_dir: str | None,
) -> MentionFinder:
    return MentionFinder(gazetteers, abbreviations, vocabulary_dir)


class FindingExtractor(_Batched):
    def __call__(self, doc: Doc) -> Doc:
        pmid = doc.user_data.get(PMID_KEY, "")
        doc._.findings = findings_from_doc(doc, doc._.minemig_mentions or [], pmid)
        return doc


@Language.factory("minemig_findings", assigns=["doc._.findings"], requires=["doc.sents"])
def make_finding_extractor(nlp: Language, name: str) -> FindingExtractor:
    return FindingExtractor()

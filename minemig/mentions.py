"""Stage 3: a processed spaCy Doc → the concept mentions the relation rules read.

Sources, in order of authority: the gazetteer (via the EntityRuler's ``doc.ents``
with ``ent_id_``), abbreviations defined in the same abstract (scispaCy's
AbbreviationDetector), an installed statistical NER model, and patterns for
gene-like symbols, microRNAs, cell types and sizes that no vocabulary lists.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable
from functools import lru_cache
from operator import itemgetter
from typing import TYPE_CHECKING, NamedTuple

from spacy.attrs import ORTH, SENT_START
from spacy.tokens import Doc, Span
from spacy.vocab import Vocab

from minemig.gazetteer import Concept, Gazetteer
from minemig.lexicon import (
    CELL_ADJECTIVES,
    CELL_SUFFIXES,
    COMPOUND_ENDINGS,
    CONSTRUCT_TAGS,
    DRUG_SUFFIXES,
    EFFECT_CUES,
    EV_REFERRING_WORDS,
    FUNCTION_CUES,
    GENE_CONTEXT_FOLLOWERS,
    METHOD_HEADS,
    MODULATOR_NOUNS,
    NAME_BOUNDARY_WORDS,
    NAME_PARTICIPLES,
    NOT_GENE_FOLLOWERS,
    NOT_GENE_SYMBOLS,
    NOT_NAME_MODIFIERS,
    PROCESS_HEADS,
)
from minemig.models import UNLISTED_PREFIX
from minemig.sizes import SizeMention, find_sizes
from minemig.vocab.normalise import HYPHENS

if TYPE_CHECKING:
    from minemig.vocab.store import Vocabularies


# Labels of scispaCy NER models (bionlp13cg, craft, jnlpba, bc5cdr, core_sci) → our kinds.
MODEL_LABEL_KINDS = {
    "GENE_OR_GENE_PRODUCT": "gene",
    "GGP": "gene",
    "GENE": "gene",
    "PROTEIN": "gene",
    "DNA": "gene",
    "RNA": "gene",
    "CELL": "cell_type",
    "CELL_TYPE": "cell_type",
    "SIMPLE_CHEMICAL": "cargo",
    "CHEMICAL": "cargo",
    "CHEBI": "cargo",
    "DISEASE": "disease",
    "CANCER": "disease",
}

_GENE_SYMBOL = re.compile(
    r"^(?:[A-Z][A-Z0-9]{1,9}[a-z]?|[A-Z][a-z]{1,6}[0-9]{1,3}[a-z]?|[A-Z]{2,6}[0-9]{0,3}[A-Z]?)$"
)
_HAS_DIGIT = re.compile(r"[0-9]")
_MIRNA = re.compile(
    r"\b(?:(?:hsa|mmu|rno)-)?(?:miR|microRNA|mir|let)[- ]?\d+[a-z]?(?:-\d)?(?:-[35]p)?\b",
)
_GENE_LIKE_HEADS = re.compile(
    r"(?:protein|kinase|synthase|receptor|ase|in|factor|ligand|transporter|channel|"
    r"integrin|tetraspanin|[0-9])$",
    re.IGNORECASE,
)


class SpanMention(NamedTuple):
    """A mention as the relation rules see it: token span, kind and canonical id.

    A named tuple rather than a frozen dataclass: a Doc has dozens of mentions, and a
    frozen dataclass takes six times as long to make."""

    start: int  # token index in the Doc
    end: int
    start_char: int
    end_char: int
    kind: str  # a gazetteer category: ev_type, gene, probe, cargo, function, ...; or size
    entity_id: str
    name: str
    text: str
    source: str
    unlisted: bool = False
    size_min_nm: float | None = None
    size_max_nm: float | None = None


# Sort keys for mentions, in text order (itemgetter runs in C; a lambda per item does not).
BY_START = itemgetter(0)
BY_SPAN = itemgetter(0, 1)


def _from_span(span: Span, concept: Concept, source: str) -> list[SpanMention]:
    """The mention(s) of a concept; a complex id such as ``ITGA5+ITGB1`` gives one per subunit."""
    start, end, start_char, end_char = span.start, span.end, span.start_char, span.end_char
    text = doc_text(span.doc)[start_char:end_char]
    kind = concept.category
    if "+" not in concept.id:
        return [
            SpanMention(
                start, end, start_char, end_char, kind, concept.id, concept.name, text, source
            )
        ]
    return [
        SpanMention(start, end, start_char, end_char, kind, unit, unit, text, source)
        for unit in concept.id.split("+")
    ]


def _symbol_case_ok(text: str, concept: Concept) -> bool:
    """Short gene symbols match only as written in capitals or mouse case ("Tspan4"),
    so "cat" or "set" in running text is never CAT or SET."""
    if concept.category != "gene" or not text.islower() or _HAS_DIGIT.search(text):
        return True  # 'tspan4a', 'itga5': zebrafish genes are written in lower case
    lowered_forms = [f for f in concept.surface_forms if f.lower() == text.lower()]
    return any(form.islower() for form in lowered_forms) and len(text) > 4


def _defined_abbreviations(doc: Doc) -> list[tuple[Span, Span]]:
    if not Doc.has_extension("abbreviations"):
        return []
    pairs = []
    for short in doc._.abbreviations:
        long_form = short._.long_form
        if long_form is not None:
            pairs.append((short, long_form))
    return pairs


def collect_mentions(
    doc: Doc, gazetteer: Gazetteer, vocabularies: Vocabularies | None = None
) -> list[SpanMention]:
    """The mentions the relation rules read: those of the sentences a finding can come
    from (:func:`claim_sentences`), non-overlapping, in text order. A text that names no
    EV type has none.

    The gazetteer speaks first (it is the authority for the review's own terms), then the
    installed public vocabularies, then a statistical model and the patterns.
    """
    mentions: list[SpanMention] = []
    ents = doc.ents  # spaCy makes the Spans anew on each access
    for ent in ents:
        entity_id = ent.ent_id_
        concept = gazetteer.get(entity_id) if entity_id else None
        if concept is None:
            continue
        found = _from_span(ent, concept, "gazetteer")
        if _symbol_case_ok(found[0].text, concept):
            mentions.extend(found)

    mentions = _apply_abbreviations(doc, gazetteer, mentions)
    mentions = _apply_curated_senses(doc, gazetteer, mentions)
    mentions = _prefer_defined_symbols(doc, mentions)
    # Everything beyond the gazetteer is looked for only where a finding can arise.
    reach = claim_sentences(doc, mentions)
    if not reach:
        return []
    taken = _Occupancy(m for m in mentions if _within(reach, m.start))
    if vocabularies is not None:
        from minemig.nlp.vocabulary import vocabulary_mentions  # it builds on SpanMention

        for found_in_vocabulary in vocabulary_mentions(doc, vocabularies):
            if _within(reach, found_in_vocabulary.start):
                taken.add_unless_shadowed(found_in_vocabulary)
    for ent in ents:
        kind = MODEL_LABEL_KINDS.get(ent.label_)
        if not kind or ent.ent_id_ or not _within(reach, ent.start):
            continue
        if taken.free(ent.start, ent.end):
            mention = _unlisted(ent, kind, "model")
            if mention:
                taken.add(mention)
    for mention in _cell_adjectives(doc, gazetteer, reach, taken):
        taken.add(mention)
    defined = (m for m in _defined_symbols(doc) if _within(reach, m.start))
    for mention in (*defined, *_compound_candidates(doc, reach), *_pattern_candidates(doc, reach)):
        if taken.free(mention.start, mention.end):
            taken.add(mention)
    for mention, taken_in in _phrase_candidates(doc, reach, taken):
        if taken.free(mention.start, mention.end) or taken_in:
            taken.replace(taken_in, mention)
    for mention in _size_mentions(doc, reach):
        if taken.free(mention.start, mention.end):
            taken.add(mention)
    found = sorted(taken.mentions, key=BY_SPAN)
    if vocabularies is not None:
        found = [_approved_symbol(m, vocabularies) for m in found]
    return _drop_non_claims(doc, found)


def claim_sentences(doc: Doc, mentions: Iterable[SpanMention]) -> list[tuple[int, int]]:
    """Token ranges of the sentences a finding can come from: each that names an EV type,
    and each after the first such that has a word which may stand for one ('these
    vesicles', 'they'). Elsewhere no rule can tie an entity to an EV."""
    ev_starts = sorted(m.start for m in mentions if m.kind == "ev_type")
    if not ev_starts:
        return []
    bounds = sentence_bounds(doc)
    sentence_starts = [start for start, _ in bounds]
    first = bisect_right(sentence_starts, ev_starts[0]) - 1  # the first sentence with an EV
    marked = {bisect_right(sentence_starts, i) - 1 for i in ev_starts}
    marked.update(k for k in _referring_sentences(doc) if k > first)
    return [bounds[k] for k in sorted(marked)]


def _referring_sentences(doc: Doc) -> set[int]:
    """Indices (in :func:`sentence_bounds`) of the sentences with a word that may stand for
    an EV, one of ``EV_REFERRING_WORDS``; found in the text, made once per Doc."""
    if "minemig_referring" not in doc.user_data:
        sentence_starts = [start for start, _ in sentence_bounds(doc)]
        doc.user_data["minemig_referring"] = {
            bisect_right(sentence_starts, i) - 1
            for i, word in enumerate(token_lowers(doc))
            if word in EV_REFERRING_WORDS
        }
    found: set[int] = doc.user_data["minemig_referring"]
    return found


def sentence_bounds(doc: Doc) -> list[tuple[int, int]]:
    """The (start, end) token indices of each sentence, as ``doc.sents`` gives them, made once
    per Doc without making a Span for each."""
    if "minemig_sentences" not in doc.user_data:
        flags = doc.to_array(SENT_START).tolist() if len(doc) else []
        starts = [0, *(i for i, flag in enumerate(flags) if flag == 1 and i > 0)]
        ends = [*starts[1:], len(doc)]
        doc.user_data["minemig_sentences"] = list(zip(starts, ends, strict=True)) if flags else []
    bounds: list[tuple[int, int]] = doc.user_data["minemig_sentences"]
    return bounds


def _within(ranges: list[tuple[int, int]], index: int) -> bool:
    """Whether the token ``index`` lies in one of ``ranges``."""
    return any(start <= index < end for start, end in ranges)


def _approved_symbol(mention: SpanMention, vocabularies: Vocabularies) -> SpanMention:
    """An unlisted gene found by pattern, definition or model, named by its approved HGNC
    symbol when the vocabulary knows it unambiguously: 'SMS2' → SGMS2."""
    if mention.kind != "gene" or not mention.unlisted or mention.source == "vocabulary":
        return mention
    symbol = vocabularies.gene_symbol(mention.name)
    if not symbol or symbol == mention.entity_id:
        return mention
    return mention._replace(entity_id=symbol, name=symbol)


def _prefer_defined_symbols(doc: Doc, mentions: list[SpanMention]) -> list[SpanMention]:
    """'tissue inhibitor of metalloproteinases 1 (TIMP1)' is TIMP1, not metalloproteinases:
    a symbol defined in the text replaces the gazetteer concepts that are only parts of its
    long form (a gazetteer concept matching the whole long form or the symbol still wins)."""
    result = list(mentions)
    for defined in _defined_symbols(doc):
        inside = [m for m in result if defined.start <= m.start and m.end <= defined.end]
        whole = [
            m
            for m in inside
            if m.source != "pattern"
            and (
                doc[m.start : m.end].text == doc[defined.start : defined.end].text.split(" (")[0]
                or m.text == defined.name
                or m.end == defined.end - 1
                or m.end == defined.end
            )
        ]
        if whole:
            continue
        result = [m for m in result if m not in inside] + [defined]
    return sorted(result, key=BY_SPAN)


class _Occupancy:
    def __init__(self, mentions: Iterable[SpanMention]) -> None:
        self.mentions = list(mentions)
        self.tokens = {i for m in self.mentions for i in range(m.start, m.end)}

    def free(self, start: int, end: int) -> bool:
        return not any(i in self.tokens for i in range(start, end))

    def add(self, mention: SpanMention) -> None:
        self.mentions.append(mention)
        self.tokens.update(range(mention.start, mention.end))

    def add_unless_shadowed(self, mention: SpanMention) -> None:
        """Add ``mention`` where it is free, or in place of the mentions of its kind that it
        strictly contains ('idiopathic pulmonary fibrosis' over 'pulmonary fibrosis'):
        the more specific term wins."""
        if self.free(mention.start, mention.end):
            self.add(mention)
            return
        inside = [m for m in self.mentions if m.start < mention.end and mention.start < m.end]
        if all(
            m.kind == mention.kind
            and mention.start <= m.start
            and m.end <= mention.end
            and m.end - m.start < mention.end - mention.start
            for m in inside
        ):
            self.replace(inside, mention)

    def covering(self, index: int) -> SpanMention | None:
        """The mention that takes the token ``index``, if any."""
        if index not in self.tokens:
            return None
        return next(m for m in self.mentions if m.start <= index < m.end)

    def replace(self, old: Iterable[SpanMention], new: SpanMention) -> None:
        for mention in old:
            self.mentions.remove(mention)
            self.tokens.difference_update(range(mention.start, mention.end))
        self.add(new)


def _apply_abbreviations(
    doc: Doc, gazetteer: Gazetteer, mentions: list[SpanMention]
) -> list[SpanMention]:
    """A short form defined in the abstract means what its long form means, there.

    "whole-genome amplification (WGA)" removes the lectin reading of every WGA in
    that abstract; "tetraspanin 4 (T4)" makes every later T4 a TSPAN4 mention.
    """
    by_start = {m.start: m for m in mentions}
    definitions: dict[str, SpanMention | None] = {}
    for short, long_form in _defined_abbreviations(doc):
        long_mentions = [
            m for m in mentions if m.start >= long_form.start and m.end <= long_form.end
        ]
        # The long form's head (its last concept) names what the short form stands for.
        meaning = max(long_mentions, key=lambda m: m.end) if long_mentions else None
        if meaning is not None and (
            meaning.end != long_form.end or meaning.start > long_form.start
        ):
            meaning = None  # the concept is only a modifier inside the long form
        definitions[short.text] = meaning
    if not definitions:
        return mentions

    def agrees_with_definition(m: SpanMention) -> bool:
        if m.text not in definitions:
            return True
        meaning = definitions[m.text]
        return meaning is not None and meaning.entity_id == m.entity_id

    kept = [m for m in mentions if agrees_with_definition(m)]
    occupied = {i for m in kept for i in range(m.start, m.end)}
    for i, word in enumerate(token_texts(doc)):
        meaning = definitions.get(word)
        if meaning is None or i in occupied or (i in by_start and by_start[i] in kept):
            continue
        concept = gazetteer.get(meaning.entity_id)
        if concept is None:
            continue
        span = doc[i : i + 1]
        kept.extend(_from_span(span, concept, "abbreviation"))
        occupied.add(i)
    return sorted(kept, key=BY_START)


def _apply_curated_senses(
    doc: Doc, gazetteer: Gazetteer, mentions: list[SpanMention]
) -> list[SpanMention]:
    """An ambiguous curated short form (several senses, no id in abbreviations.tsv) keeps its
    gazetteer reading unless the abstract spells out one of its other senses: WGA stays the
    lectin unless 'whole-genome amplification' appears in the text."""
    senses = gazetteer.ambiguous_short_forms
    if not senses or not any(m.text in senses for m in mentions):
        return mentions
    text = doc_text(doc).lower()
    kept = []
    for m in mentions:
        if m.text in senses:
            concept = gazetteer.get(m.entity_id)
            own = {f.lower() for f in concept.surface_forms} if concept else set()
            others = [long for long in senses[m.text] if long not in own]
            if any(long in text for long in others):
                continue
        kept.append(m)
    return kept


# Words before an RNA mention that make it a reagent, not a cargo ('short hairpin RNA').
REAGENT_RNA_BEFORE = frozenset({"hairpin", "interfering", "guide", "antisense", "silencing"})


def _drop_non_claims(doc: Doc, mentions: list[SpanMention]) -> list[SpanMention]:
    """Mentions that name no claimed entity: a class noun in apposition to its member
    ('the chemokine CCL2' keeps CCL2), a count ('2,146 proteins'), a reagent
    ('short hairpin RNA')."""
    kept = []
    for index, m in enumerate(mentions):
        following = mentions[index + 1] if index + 1 < len(mentions) else None
        previous_word = doc[m.start - 1].lower_ if m.start > 0 else ""
        is_class_noun = m.text[:1].islower() and m.kind in {"gene", "cargo", "biogenesis"}
        if (
            is_class_noun
            and following is not None
            and following.start == m.end
            and following.kind == "gene"
        ):
            continue
        if is_class_noun and m.start > 0 and doc[m.start - 1].like_num:
            continue
        if m.kind == "cargo" and previous_word in REAGENT_RNA_BEFORE:
            continue
        if previous_word in {"non", "non-"} or (
            previous_word == "-" and m.start > 1 and doc[m.start - 2].lower_ == "non"
        ):
            continue  # 'non-tumour liver' names no tumour
        kept.append(m)
    return kept


def _unlisted(span: Span, kind: str, source: str) -> SpanMention | None:
    text = span.text.strip()
    if not text or text.lower() in NOT_GENE_SYMBOLS:
        return None
    if kind == "gene":
        name = normalise_symbol(text) if " " not in text else text
        entity_id = name if _GENE_SYMBOL.match(name) else UNLISTED_PREFIX + text.lower()
    else:
        name = text.lower()
        if name.endswith("s") and not name.endswith("ss"):
            name = name[:-1]
        entity_id = UNLISTED_PREFIX + name
    return SpanMention(
        span.start,
        span.end,
        span.start_char,
        span.end_char,
        kind,
        entity_id,
        name,
        span.text,
        source,
        unlisted=True,
    )


_FLUOROPHORE = re.compile(r"(?i)^(?:alexa(?:fluor)?|cy|atto|dylight|fitc|tritc|bodipy)\d*$")
_ROMAN_NUMERALS = frozenset({"I", "II", "III", "IV", "V", "VI"})
# Parts of a hyphenated symbol that make it a construct or a state, not another gene:
# 'TSPAN4-GFP', 'CD63-HA', 'PTEN-null'.
_CONSTRUCT_TAGS = CONSTRUCT_TAGS | frozenset(
    {"ha", "myc", "v5", "his", "positive", "negative", "knockout", "ko", "null"}
)


# Greek letters in symbols as HGNC spells them: HIF-1α → HIF1A, IL-1β → IL1B, IFN-γ → IFNG.
_GREEK_IN_SYMBOLS = str.maketrans(
    {"α": "A", "β": "B", "γ": "G", "δ": "D", "ε": "E", "κ": "K", "λ": "L", "ζ": "Z"}
)


def normalise_symbol(text: str) -> str:
    """Mouse and rat gene case to the human symbol's form: Tspan4 → TSPAN4, DC-STAMP → DCSTAMP,
    IL-1β → IL1B."""
    if text.lower().startswith(("mir-", "let-", "microrna")):
        return text
    return text.translate(_GREEK_IN_SYMBOLS).upper().replace("-", "")


def _looks_like_gene(token_text: str) -> bool:
    if token_text.lower() in NOT_GENE_SYMBOLS or not _GENE_SYMBOL.match(token_text):
        return False
    if len(token_text) < 3:
        return False  # 'A9' of 'S100A8/A9', 'B2': too short to stand alone
    if _FLUOROPHORE.match(token_text):
        return False
    return bool(_HAS_DIGIT.search(token_text)) or token_text.isupper()


_HYPHENATED_SYMBOL = re.compile(
    r"(?<!\d-)\b[A-Z][A-Za-z0-9]{0,9}(?:-(?:[A-Z0-9][A-Za-z0-9]{0,9}[αβγδεκλζ]?|[αβγδεκλζ]))+\b"
)
# Families whose name alone is no gene symbol but whose numbered or lettered members are:
# 'IL-6', 'IFN-γ', 'TNF-α', 'HIF-1α'.
_NUMBERED_FAMILY = re.compile(r"^(?:IL|IFN|TNF|TGF|CSF|CCL|CXCL|HIF|PKC)-")
_MEMBER_MARK = re.compile(r"[0-9αβγδεκλζ]")
_CELL_LINE_LIKE = re.compile(
    r"^(?:[A-Za-z]{3,}-?\d{2,}|[A-Za-z]{1,2}-?\d{3,}|[A-Z]+-[A-Z]+-\d+|[A-Z]\d+-[A-Z]\d+)$"
)


def _defined_symbols(doc: Doc) -> Iterable[SpanMention]:
    """'sphingomyelin synthase 2 (SMS2)': one unlisted gene mention over the long form and
    its symbol, so the claim reaches the symbol whichever of the two the sentence uses."""
    for short, long_form in _defined_abbreviations(doc):
        symbol = short.text
        if not (_looks_like_gene(symbol) or _HYPHENATED_SYMBOL.fullmatch(symbol)):
            continue
        if _CELL_LINE_LIKE.match(symbol) or not 0 < short.start - long_form.end <= 2:
            continue  # only the definition itself, 'long form (SHORT)', not later uses
        if not _GENE_LIKE_HEADS.search(long_form.text):
            continue  # 'deterministic lateral displacement (DLD)' names no protein
        end = short.end + 1 if short.end < len(doc) and doc[short.end].text == ")" else short.end
        span = doc[long_form.start : end]
        name = normalise_symbol(symbol)
        yield SpanMention(
            span.start,
            span.end,
            span.start_char,
            span.end_char,
            "gene",
            name,
            name,
            span.text,
            "abbreviation",
            unlisted=True,
        )


# Where a Doc's text is kept (minemig's tokenizer puts it there): spaCy rebuilds
# ``doc.text`` from the tokens on every access, which costs more than reading a sentence.
TEXT_KEY = "minemig_text"


def doc_text(doc: Doc) -> str:
    """The Doc's text: kept by minemig's tokenizer, else joined once (spaCy joins the
    tokens anew on every access)."""
    if TEXT_KEY not in doc.user_data:
        doc.user_data[TEXT_KEY] = doc.text
    text: str = doc.user_data[TEXT_KEY]
    return text


def token_texts(doc: Doc) -> list[str]:
    """The tokens' texts as plain strings, made once: Token objects are costly to create."""
    if "minemig_words" not in doc.user_data:
        strings = doc.vocab.strings
        doc.user_data["minemig_words"] = [strings[h] for h in doc.to_array(ORTH).tolist()]
    words: list[str] = doc.user_data["minemig_words"]
    return words


def token_lowers(doc: Doc) -> list[str]:
    """The tokens' lower-case forms as plain strings, made once per Doc (spaCy's ``lower_``
    is ``str.lower`` of the text)."""
    if "minemig_lower" not in doc.user_data:
        doc.user_data["minemig_lower"] = [word.lower() for word in token_texts(doc)]
    words: list[str] = doc.user_data["minemig_lower"]
    return words


def punct_or_number(doc: Doc, word: str) -> bool:
    """Whether the token text ``word`` of ``doc`` is punctuation or like a number."""
    return _punct_or_number(doc.vocab, word)


@lru_cache(maxsize=1 << 16)
def _punct_or_number(vocab: Vocab, word: str) -> bool:
    lexeme = vocab[word]
    return bool(lexeme.is_punct or lexeme.like_num)


def _pattern_candidates(doc: Doc, reach: list[tuple[int, int]]) -> Iterable[SpanMention]:
    """Gene-like symbols, microRNAs and cell-type nouns that no vocabulary named, in the
    token ranges ``reach``."""
    for start, end in reach:
        yield from _patterns_between(doc, start, end)


def _char_bounds(doc: Doc, start: int, end: int) -> tuple[int, int]:
    last = doc[end - 1]
    return doc[start].idx, last.idx + len(last)


def _patterns_between(doc: Doc, start: int, end: int) -> Iterable[SpanMention]:
    text = doc_text(doc)
    begin, stop = _char_bounds(doc, start, end)
    for match in _MIRNA.finditer(text, begin, stop):
        span = doc.char_span(match.start(), match.end(), alignment_mode="expand")
        if span is not None:
            name = match.group(0)
            yield SpanMention(
                span.start,
                span.end,
                span.start_char,
                span.end_char,
                "cargo",
                UNLISTED_PREFIX + name.lower(),
                name,
                span.text,
                "pattern",
                unlisted=True,
            )
    for match in _HYPHENATED_SYMBOL.finditer(text, begin, stop):
        symbol = match.group(0)
        parts = symbol.split("-")
        if _CELL_LINE_LIKE.match(symbol) or symbol.lower() in NOT_GENE_SYMBOLS:
            continue
        if any(
            (p.lower() in NOT_GENE_SYMBOLS and not _NUMBERED_FAMILY.match(symbol))
            or p.lower() in _CONSTRUCT_TAGS
            or _FLUOROPHORE.match(p)
            for p in parts
        ):
            continue  # 'TSPAN4-GFP' is a construct of TSPAN4, matched on its own
        if not any(_MEMBER_MARK.search(p) for p in parts) and not all(p.isupper() for p in parts):
            continue
        if parts[-1] in _ROMAN_NUMERALS:
            continue  # 'OT-I' mice, 'MHC-II': names of strains and classes, not genes
        span = doc.char_span(match.start(), match.end(), alignment_mode="strict")
        if span is None:
            continue
        following = doc[span.end].lower_ if span.end < len(doc) else ""
        if following in NOT_GENE_FOLLOWERS:
            continue
        mention = _unlisted(span, "gene", "pattern")
        if mention:
            yield mention
    # Plain strings, not Token objects: this loop sees every token of every searched sentence.
    words = token_texts(doc)
    for i in range(start, end):
        word = words[i]
        lower = word.lower()
        following = words[i + 1].lower() if i + 1 < len(words) else ""
        if _looks_like_gene(word):
            if following in NOT_GENE_FOLLOWERS or _in_cell_line_name(words, i):
                continue
            if not _HAS_DIGIT.search(word) and following not in GENE_CONTEXT_FOLLOWERS:
                continue  # all-capital words without digits are too often acronyms
            end_of_symbol = i + 2 if _unit_split_off(doc, words, i) else i + 1
            mention = _unlisted(doc[i:end_of_symbol], "gene", "pattern")
            if mention:
                yield mention
        elif lower.endswith(CELL_SUFFIXES) and word.isalpha() and len(word) > 6:
            if lower in {"cell", "cells"}:
                continue
            yield from _cell_mention(doc, i)


def _unit_split_off(doc: Doc, words: list[str], i: int) -> bool:
    """Whether the tokenizer cut a unit-like ending off the symbol at ``i``: 'PI4KB' is
    tokenized as 'PI4' 'KB' (kilobases), 'PIP5KA' likewise."""
    if i + 1 >= len(words):
        return False
    rest = words[i + 1]
    return (
        len(rest) <= 3
        and rest.isalpha()
        and rest.isupper()
        and bool(_GENE_SYMBOL.match(words[i] + rest))
        and doc[i].whitespace_ == ""
    )


def _cell_adjectives(
    doc: Doc, gazetteer: Gazetteer, reach: list[tuple[int, int]], taken: _Occupancy
) -> Iterable[SpanMention]:
    """Cell types named by an adjective that modifies an EV: 'endothelial migrasomes',
    'epithelial and fibroblast migrasomes', 'migrasomes of mesenchymal origin'. Elsewhere
    such an adjective names no cell ('epithelial–mesenchymal transition')."""
    lowers = token_lowers(doc)
    for start, end in reach:
        for i in range(start, end - 1):
            concept = CELL_ADJECTIVES.get(lowers[i])
            if concept is None or not taken.free(i, i + 1):
                continue
            k = i + 1
            while k + 1 < end and lowers[k] in {"and", "or", ","}:
                coordinated = taken.covering(k + 1)
                if coordinated is None or coordinated.kind != "cell_type":
                    break  # 'endothelial and migrasome membranes': no cell type is listed
                k = coordinated.end  # 'epithelial and fibroblast migrasomes'
            held = taken.covering(k)
            if lowers[k] in {"origin", "origins"} or (held is not None and held.kind == "ev_type"):
                found = gazetteer.get(concept)
                if found is not None:
                    yield from _from_span(doc[i : i + 1], found, "gazetteer")


def _in_cell_line_name(words: list[str], i: int) -> bool:
    """Whether token ``i`` is part of a hyphenated cell line's name: 'B16-F10', '4175-LM2'."""
    if i >= 2 and words[i - 1] == "-":
        before = words[i - 2]
        if before.isdigit() or _CELL_LINE_LIKE.match(f"{before}-{words[i]}"):
            return True
    return (
        i + 2 < len(words)
        and words[i + 1] == "-"
        and bool(_CELL_LINE_LIKE.match(f"{words[i]}-{words[i + 2]}"))
    )


def _cell_mention(doc: Doc, index: int) -> Iterable[SpanMention]:
    # One modifier is kept ("dendritic cells", "mesenchymal stem cells" keeps two).
    start = index
    while start > 0 and start > index - 2 and doc[start - 1].is_alpha and doc[start - 1].is_lower:
        if doc[start - 1].lower_ in {"the", "of", "and", "or", "by", "from", "in", "with", "to"}:
            break
        start -= 1
    mention = _unlisted(doc[start : index + 1], "cell_type", "pattern")
    if mention:
        yield mention


# What joins the parts of a compound name: hyphens, and the en dash of 'cGAS–STING'.
COMPOUND_JOINERS = HYPHENS | {"\u2013"}
# Stems of the verbs that tie an entity to an EV: where a name read backwards stops.
VERB_STEMS = tuple(sorted(set(EFFECT_CUES) | set(FUNCTION_CUES)))
NAME_MODIFIERS_MAX = 4  # words a method's or process's name takes before its head
_COMPOUND_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9]")


def _compound_candidates(doc: Doc, reach: list[tuple[int, int]]) -> Iterable[SpanMention]:
    """Compounds named right after an inhibitor-like noun ('the selective inhibitor Ly93',
    'the dynamin inhibitor dynasore'): modulators of biogenesis. They come before the gene
    patterns, which would read 'Ly93' as a mouse gene symbol."""
    lowers = token_lowers(doc)
    text = doc_text(doc)
    for start, end in reach:
        for i in range(start, end - 1):
            if lowers[i] not in MODULATOR_NOUNS:
                continue
            match = _COMPOUND_NAME.match(text, doc[i + 1].idx)
            if match is None:
                continue
            name = match.group(0)
            lower = name.lower()
            if lower in NAME_BOUNDARY_WORDS or not (
                _HAS_DIGIT.search(name) or (lower.endswith(COMPOUND_ENDINGS) and len(name) > 4)
            ):
                continue
            span = doc.char_span(match.start(), match.end(), alignment_mode="strict")
            if span is not None and span.end <= end:
                yield _compound(span)


def _compound(span: Span) -> SpanMention:
    return SpanMention(
        span.start,
        span.end,
        span.start_char,
        span.end_char,
        "biogenesis",
        UNLISTED_PREFIX + span.text.lower(),
        span.text,
        span.text,
        "pattern",
        unlisted=True,
    )


def _phrase_candidates(
    doc: Doc, reach: list[tuple[int, int]], taken: _Occupancy
) -> Iterable[tuple[SpanMention, list[SpanMention]]]:
    """Methods, processes and drugs that no vocabulary names, each with the mentions it
    takes in: 'by automated high-content imaging' → high-content imaging (method),
    'accelerate osteoclast fusion' → osteoclast fusion (function, taking in the cell type),
    'cisplatin increased migrasome output' → cisplatin (a modulator of biogenesis)."""
    words = token_texts(doc)
    lowers = token_lowers(doc)
    for start, end in reach:
        for i in range(start, end):
            lower = lowers[i]
            if i in taken.tokens:
                continue
            if lower in METHOD_HEADS:
                kind = "method"
            elif lower in PROCESS_HEADS:
                kind = "function"
            elif lower.endswith(DRUG_SUFFIXES) and len(lower) > 6 and words[i].isalpha():
                yield _compound(doc[i : i + 1]), []
                continue
            else:
                continue
            first, taken_in = _name_start(doc, i, start, taken, kind)
            if first < i:
                mention = _unlisted(doc[first : i + 1], kind, "pattern")
                if mention:
                    yield mention, taken_in


def _name_start(
    doc: Doc, head: int, sentence_start: int, taken: _Occupancy, kind: str
) -> tuple[int, list[SpanMention]]:
    """The first token of the name ending at ``head``, read backwards over lower-case
    modifiers; ``head`` itself when no name can be told apart. A process's name may take in
    the cell type before it ('neutrophil recruitment'), which the caller then replaces."""
    words = token_texts(doc)
    lowers = token_lowers(doc)
    first, modifiers, taken_in = head, 0, []
    while first > sentence_start and modifiers < NAME_MODIFIERS_MAX:
        k = first - 1
        word, lower = words[k], lowers[k]
        if word in COMPOUND_JOINERS:
            if k == sentence_start or doc[k - 1].whitespace_ or doc[k].whitespace_:
                break
            first = k  # 'high-content': the word before the hyphen is read next
            continue
        inside = taken.covering(k)
        if inside is not None:
            singular = not lower.endswith("s") or lower.endswith("ss")
            if kind == "function" and inside.kind == "cell_type" and singular:
                taken_in.append(inside)  # 'T cell activation'; not 'stem cells transfer'
                first = inside.start
            elif kind == "function":
                return head, []  # 'EGFR signalling': a gene's pathway, found through the gene
            break
        if lower in NAME_BOUNDARY_WORDS or lower in NOT_NAME_MODIFIERS:
            break
        has_digit = bool(_HAS_DIGIT.search(word))
        if not word.isalnum():
            if any(c.isalpha() for c in word) and not has_digit:
                return head, []  # 'cGAS–STING pathway activation': a part it cannot read
            break  # punctuation
        if word != lower and k != sentence_start and not has_digit:
            return head, []  # a symbol or a proper name before the head: 'STING pathway'
        if lower.startswith(VERB_STEMS):
            break  # 'accelerate osteoclast fusion': the verb of the sentence
        if lower.endswith(("ed", "ing")) and lower not in NAME_PARTICIPLES:
            break
        first, modifiers = k, modifiers + 1
    if words[first] in COMPOUND_JOINERS or (
        first > sentence_start and words[first - 1] in COMPOUND_JOINERS
    ):
        return head, []  # the name goes on into a compound it cannot read
    return first, taken_in


def _size_mentions(doc: Doc, reach: list[tuple[int, int]]) -> Iterable[SpanMention]:
    text = doc_text(doc)
    for start, end in reach:
        begin, stop = _char_bounds(doc, start, end)
        for size in find_sizes(text[begin:stop]):
            yield from _size_mention(doc, size, begin)


def _size_mention(doc: Doc, size: SizeMention, offset: int) -> Iterable[SpanMention]:
    span = doc.char_span(offset + size.start, offset + size.end, alignment_mode="expand")
    if span is None:
        return
    yield SpanMention(
        span.start,
        span.end,
        span.start_char,
        span.end_char,
        "size",
        size.entity_id,
        size.text,
        size.text,
        "pattern",
        unlisted=False,
        size_min_nm=size.min_nm,
        size_max_nm=size.max_nm,
    )

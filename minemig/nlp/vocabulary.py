"""Genes, cell types, processes and diseases of the installed public vocabularies, in a Doc.

:func:`vocabulary_mentions` reads a Doc made by minemig's tokenizer and returns
:class:`~minemig.mentions.SpanMention` s of kind ``gene`` (entity id: the approved HGNC
symbol), ``cell_type`` (``CL:``), ``function`` (``GO:``, biological processes) and
``disease`` (``DOID:``), with ``source="vocabulary"`` and ``unlisted=True``.

Forms are looked up under the keys they were compiled with (:mod:`minemig.vocab.normalise`):
names case-insensitively, symbols with their case, and mouse or rat case ("Tspan4") as the
approved human symbol. The longest match wins; a span claimed by two vocabularies goes to
the better-ranked form (an approved symbol or label over an alias or synonym), and to
neither on a tie.

A guarded form (see :mod:`minemig.vocab.compile`) or a form several entities share is taken
only where the abstract supports one reading:

* the same entity is named elsewhere in the abstract by a form taken on sight
  ("catalase (CAT)", "amyotrophic lateral sclerosis (ALS)"), unless the form is an English
  word or a common abbreviation ("ER", "LARGE"), which can change sense within an abstract;
* the abstract defines the short form, and its long form names that entity;
* for genes, the words around it make it a gene: "CAT protein", "CAT-positive",
  "anti-CAT", "knockdown of CAT", "CAT+".

A short form the abstract defines as something else is never a guarded term ("transmission
electron microscopy (TEM)"). A gene symbol followed by "cells" or "line" is a cell line; one
glued by a hyphen to a word that is not a tag or a context word is part of another name
("SARS-CoV-2", "SDS-PAGE"); one after a number is a unit.

Nothing here does I/O: the vocabularies come loaded
(:func:`minemig.vocab.load_installed_vocabularies`).
"""

from __future__ import annotations

from collections.abc import Container, Iterator
from dataclasses import dataclass

from spacy.attrs import IDX, LENGTH, SPACY
from spacy.tokens import Doc

from minemig.mentions import BY_SPAN, SpanMention
from minemig.vocab.compile import DIRECT, ENGLISH, FAMILY, GUARD_MASK, RANK_SHIFT, STOP
from minemig.vocab.normalise import HYPHENS, is_mouse_case, name_token, symbol_token
from minemig.vocab.store import CompiledVocabulary, Vocabularies
from minemig.vocab.words import (
    ENGLISH_WORDS,
    GENE_CONTEXT_AFTER,
    GENE_CONTEXT_BEFORE,
    GENE_CONTEXT_OF,
    HYPHEN_PARTNERS,
    NOT_GENE_AFTER,
)

SOURCE = "vocabulary"
# Forms that are also ordinary words or abbreviations ('ER', 'LARGE') can mean the gene in
# one sentence of an abstract and not in the next: only their own context counts.
WORD_GUARDS = frozenset({ENGLISH, STOP})
_SLACK = 1  # a text may split a form into one token more than the form itself has


@dataclass(frozen=True)
class _Candidate:
    start: int  # Doc token span
    end: int
    vocabulary: CompiledVocabulary
    entities: tuple[int, ...]
    guard: int
    rank: int
    symbol: bool  # matched in the symbols table (case-sensitive), mouse case included

    @property
    def is_gene_symbol(self) -> bool:
        return self.symbol and self.vocabulary.kind == "gene"

    def ids(self) -> Iterator[tuple[str, str]]:
        for entity in self.entities:
            yield self.vocabulary.info.name, self.vocabulary.entities[entity][0]


def vocabulary_mentions(
    doc: Doc, vocabularies: Vocabularies | None, taken: Container[int] = frozenset()
) -> list[SpanMention]:
    """Mentions of the vocabularies' entities in ``doc``, none on a token in ``taken``,
    none overlapping another, in text order."""
    if vocabularies is None or not vocabularies.items or len(doc) == 0:
        return []
    keys = _Keys(doc)
    candidates = list(_candidates(keys, vocabularies))
    if not candidates:
        return []
    gene_starts = {c.start for c in candidates if c.is_gene_symbol}
    gene_ends = {c.end for c in candidates if c.is_gene_symbol}
    plausible = [c for c in candidates if _plausible(doc, c, gene_starts, gene_ends)]
    supported, definitions = _support(doc, plausible)
    accepted: list[tuple[_Candidate, int]] = []
    for candidate in plausible:
        entity = _accept(doc, candidate, supported, definitions)
        if entity is not None:
            accepted.append((candidate, entity))
    return _select(doc, accepted, taken)


class _Keys:
    """The Doc's tokens keyed as the vocabularies are: attached hyphens left out, a barrier
    (index -1) at whitespace and at free-standing dashes, which no form crosses."""

    def __init__(self, doc: Doc) -> None:
        self.index: list[int] = []
        self.names: list[str] = []
        self.symbols: list[str] = []
        self.mouse: list[bool] = []
        # From arrays rather than Token objects, which are costly to make.
        content = doc.text
        offsets = doc.to_array([IDX, LENGTH, SPACY]).tolist()
        texts = [content[start : start + length] for start, length, _ in offsets]
        spaced = [bool(space) for _, _, space in offsets]
        last = len(texts) - 1
        for i, text in enumerate(texts):
            if text in HYPHENS:
                if 0 < i < last and not spaced[i - 1] and not spaced[i]:
                    continue  # attached: 'TSPAN4-positive'
                text = ""
            elif text.isspace():
                text = ""
            if not text:
                self.index.append(-1)
                self.names.append("")
                self.symbols.append("")
                self.mouse.append(False)
                continue
            self.index.append(i)
            self.names.append(name_token(text))
            symbol = symbol_token(text)
            self.symbols.append(symbol)
            self.mouse.append(is_mouse_case(symbol))


def _attached(doc: Doc, i: int) -> bool:
    """A hyphen with no space on either side: 'TSPAN4-positive', not 'X - Y'."""
    return 0 < i < len(doc) - 1 and not doc[i - 1].whitespace_ and not doc[i].whitespace_


def _candidates(keys: _Keys, vocabularies: Vocabularies) -> Iterator[_Candidate]:
    """Every form of every vocabulary found in the Doc, all lengths, overlaps included."""
    names_first, symbols_first = vocabularies.first_tokens()
    items = vocabularies.items
    for p, i in enumerate(keys.index):
        if i < 0:
            continue
        for v, limit in names_first.get(keys.names[p], ()):
            yield from _scan(keys, p, limit, items[v], symbol=False)
        first = keys.symbols[p]
        for v, limit in symbols_first.get(first, ()):
            yield from _scan(keys, p, limit, items[v], symbol=True)
        if keys.mouse[p]:
            for v, limit in symbols_first.get(first.upper(), ()):
                if items[v].kind == "gene":
                    yield from _scan_mouse(keys, p, limit, items[v])


def _scan(
    keys: _Keys, p: int, limit: int, vocabulary: CompiledVocabulary, *, symbol: bool
) -> Iterator[_Candidate]:
    table = vocabulary.symbols if symbol else vocabulary.names
    pairs = vocabulary.symbol_pairs if symbol else vocabulary.name_pairs
    forms = keys.symbols if symbol else keys.names
    key = ""
    for q in range(p, min(len(keys.index), p + limit + _SLACK)):
        if keys.index[q] < 0:
            break
        key += forms[q]
        entry = table.get(key)
        if entry is not None:
            yield _candidate(keys, p, q, vocabulary, entry, symbol=symbol)
        elif q == p + 1 and key not in pairs:
            break  # no form begins with these two tokens


def _scan_mouse(
    keys: _Keys, p: int, limit: int, vocabulary: CompiledVocabulary
) -> Iterator[_Candidate]:
    """'Tspan4', 'Sgms2': mouse and rat case of approved human symbols."""
    key = ""
    for q in range(p, min(len(keys.index), p + limit + _SLACK)):
        if keys.index[q] < 0:
            break
        key += keys.symbols[q]
        if not is_mouse_case(key):
            continue
        entry = vocabulary.symbols.get(key.upper())
        if entry is not None and entry[0] >> RANK_SHIFT == 0:  # approved symbols only
            candidate = _candidate(keys, p, q, vocabulary, entry, symbol=True)
            if key.lower() in ENGLISH_WORDS:  # 'Clock', 'Impact', 'Mice'
                candidate = _with_guard(candidate, max(candidate.guard, ENGLISH))
            yield candidate


def _candidate(
    keys: _Keys, p: int, q: int, vocabulary: CompiledVocabulary, entry: list[int], *, symbol: bool
) -> _Candidate:
    flags = entry[0]
    return _Candidate(
        start=keys.index[p],
        end=keys.index[q] + 1,
        vocabulary=vocabulary,
        entities=tuple(entry[1:]),
        guard=flags & GUARD_MASK,
        rank=flags >> RANK_SHIFT,
        symbol=symbol,
    )


def _with_guard(candidate: _Candidate, guard: int) -> _Candidate:
    return _Candidate(
        candidate.start,
        candidate.end,
        candidate.vocabulary,
        candidate.entities,
        guard,
        candidate.rank,
        candidate.symbol,
    )


# -- context ---------------------------------------------------------------------------


def _word_after(doc: Doc, end: int) -> str:
    """The word after a span, across an attached hyphen ('X-positive' → 'positive')."""
    if end < len(doc) and doc[end].text in HYPHENS and _attached(doc, end):
        end += 1
    return doc[end].lower_ if end < len(doc) else ""


def _word_before(doc: Doc, start: int) -> tuple[str, str]:
    """The word before a span (across an attached hyphen: 'anti-X') and the one before it."""
    i = start - 1
    if i > 0 and doc[i].text in HYPHENS and _attached(doc, i):
        i -= 1
    before = doc[i].lower_ if i >= 0 else ""
    earlier = doc[i - 1].lower_ if i >= 1 else ""
    return before, earlier


def _gene_context(doc: Doc, candidate: _Candidate) -> bool:
    """Words around a gene symbol that make it a gene: 'X protein', 'anti-X', 'loss of X'.
    A family name ('Rho', 'AKT') stays a family in any context."""
    if not candidate.is_gene_symbol or candidate.guard == FAMILY:
        return False
    if _word_after(doc, candidate.end) in GENE_CONTEXT_AFTER:
        return True
    before, earlier = _word_before(doc, candidate.start)
    return before in GENE_CONTEXT_BEFORE or (before == "of" and earlier in GENE_CONTEXT_OF)


def _plausible(doc: Doc, candidate: _Candidate, gene_starts: set[int], gene_ends: set[int]) -> bool:
    """False for a gene symbol that is a cell line, part of another name, or a unit."""
    if not candidate.is_gene_symbol:
        return True
    start, end = candidate.start, candidate.end
    if end < len(doc) and doc[end].lower_ in NOT_GENE_AFTER:
        return False  # 'PC12 cells', 'L929 line'
    if end + 1 < len(doc) and doc[end].text in HYPHENS and _attached(doc, end):
        partner = doc[end + 1]
        if partner.lower_ in NOT_GENE_AFTER:
            return False
        if (
            partner.text.isalnum()
            and partner.lower_ not in HYPHEN_PARTNERS
            and (end + 1) not in gene_starts
        ):
            return False  # 'SARS-CoV-2'
    if start >= 2 and doc[start - 1].text in HYPHENS and _attached(doc, start - 1):
        partner = doc[start - 2]
        if (
            partner.text.isalnum()
            and partner.lower_ not in HYPHEN_PARTNERS
            and (start - 1) not in gene_ends
        ):
            return False  # 'SDS-PAGE', 'Rab11-FIP3'
    text = doc[start:end].text
    return not (
        start > 0 and doc[start - 1].like_num and text.isalpha() and len(text) <= 4
    )  # '10 MU'


def _support(
    doc: Doc, candidates: list[_Candidate]
) -> tuple[set[tuple[str, str]], dict[str, tuple[str, str] | None]]:
    """Entities the abstract names unguarded (or as a gene in context), and the short forms
    it defines with what they stand for (None: nothing the vocabularies know)."""
    supported: set[tuple[str, str]] = set()
    confident: list[_Candidate] = []
    for candidate in candidates:
        if len(candidate.entities) != 1:
            continue
        if candidate.guard == DIRECT or _gene_context(doc, candidate):
            supported.update(candidate.ids())
            confident.append(candidate)
    definitions: dict[str, tuple[str, str] | None] = {}
    for short, long_start, long_end in _abbreviations(doc):
        inside = [
            c for c in confident if long_start <= c.start and c.end == long_end
        ]  # the long form's head names what the short form stands for
        if inside:
            meaning = next(min(inside, key=lambda c: (c.start, c.rank)).ids())
            definitions[short] = meaning
            supported.add(meaning)
        else:
            definitions.setdefault(short, None)
    return supported, definitions


def _abbreviations(doc: Doc) -> Iterator[tuple[str, int, int]]:
    """(short form, long form start, end) of scispaCy's AbbreviationDetector, when it ran."""
    if not Doc.has_extension("abbreviations"):
        return
    for short in doc._.abbreviations or ():
        long_form = short._.long_form
        if long_form is not None:
            yield short.text, long_form.start, long_form.end


def _accept(
    doc: Doc,
    candidate: _Candidate,
    supported: set[tuple[str, str]],
    definitions: dict[str, tuple[str, str] | None],
) -> int | None:
    """The entity index the candidate is taken as, or None."""
    text = doc[candidate.start : candidate.end].text
    ids = list(candidate.ids())
    if text in definitions:
        meaning = definitions[text]
        if meaning is not None:
            return candidate.entities[ids.index(meaning)] if meaning in ids else None
        if candidate.guard != DIRECT or len(ids) != 1:
            return None  # defined as something no vocabulary knows
    if len(ids) == 1:
        if candidate.guard == DIRECT or _gene_context(doc, candidate):
            return candidate.entities[0]
        if ids[0] in supported and candidate.guard not in WORD_GUARDS:
            return candidate.entities[0]
        return None
    chosen = [
        entity for entity, key in zip(candidate.entities, ids, strict=True) if key in supported
    ]
    return chosen[0] if len(chosen) == 1 else None


def _select(
    doc: Doc, accepted: list[tuple[_Candidate, int]], taken: Container[int]
) -> list[SpanMention]:
    """Longest first, then earliest; a span two vocabularies claim goes to the better rank."""
    by_span: dict[tuple[int, int], list[tuple[_Candidate, int]]] = {}
    for candidate, entity in accepted:
        by_span.setdefault((candidate.start, candidate.end), []).append((candidate, entity))
    occupied: set[int] = set()
    mentions = []
    for (start, end), claims in sorted(by_span.items(), key=lambda s: (s[0][0] - s[0][1], s[0][0])):
        if any(i in taken or i in occupied for i in range(start, end)):
            continue
        best = min(c.rank for c, _ in claims)
        winners = {
            (c.vocabulary.info.name, entity): (c, entity) for c, entity in claims if c.rank == best
        }
        if len(winners) != 1:
            continue  # two vocabularies, two readings: neither
        candidate, entity = next(iter(winners.values()))
        entity_id, name, _ = candidate.vocabulary.entities[entity]
        span = doc[start:end]
        mentions.append(
            SpanMention(
                start,
                end,
                span.start_char,
                span.end_char,
                candidate.vocabulary.kind,
                entity_id,
                name,
                span.text,
                SOURCE,
                unlisted=True,
            )
        )
        occupied.update(range(start, end))
    return sorted(mentions, key=BY_SPAN)

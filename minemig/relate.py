"""Stage 4: mentions in a sentence → findings (EV type, category, entity) with their scope.

Rules, named ``minemig.clause_rules.v1``: a sentence is cut into clauses; in each
clause an entity is tied to the EV mention it is attached to (a compound such as
"TSPAN4-positive migrasomes", "migrasomes from neutrophils") or else the nearest
EV mention that is not inside a contrast phrase ("unlike exosomes"). The cue
words between them and the entity's kind decide the category. Negation and
hedging are decided for each finding from the cues in its own clause and their
position, never for the sentence as a whole.
"""

from __future__ import annotations

import itertools
from bisect import bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import NamedTuple

from spacy.tokens import Doc, Span

from minemig.lexicon import (
    ADJACENT_ONLY_CUES,
    ALWAYS_CLAUSE_BREAK,
    ANAPHORA,
    CARGO_CUES,
    CLAUSE_CONNECTIVES,
    CONSTRUCT_TAGS,
    CONTRAST_OPENERS,
    DISEASE_CUES,
    EFFECT_CUES,
    EV_STAND_INS,
    FIBRE_EV_TYPE,
    FORMATION_NOUNS,
    FORMATION_VERBS_OF_EV,
    FUNCTION_CUES,
    GLUE_WORDS,
    HEDGE_ADVERBS,
    HEDGE_EXCLUDED_FORMS,
    HEDGE_STEMS,
    MARKER_CUES,
    MARKER_CUES_BEFORE_TO,
    METHOD_CUES,
    NEGATION_WORDS,
    NOT_A_NEGATION_AFTER,
    PERTURBATION_WORDS,
    PRODUCER_CUES,
    RECIPIENT_CUES,
    REQUIREMENT_CUES,
    STRONG_MARKER_CUES,
    SUBJECT_CARRYING_STARTS,
    TIME_PREPOSITIONS,
    TRANSPARENT_HEADS,
    TYPED_ANAPHORA,
)
from minemig.mentions import (
    BY_START,
    COMPOUND_JOINERS,
    SpanMention,
    claim_sentences,
    doc_text,
    punct_or_number,
    sentence_bounds,
    token_lowers,
    token_texts,
)
from minemig.models import Finding

RULES_VERSION = "minemig.clause_rules.v1"
SIZE_MAX_DISTANCE = 10  # words between a size and its EV

# Words that may stand between an entity and the EV noun it modifies.
COMPOUND_LINKS = frozenset(
    {
        "-",
        "+",
        "positive",
        "labeled",
        "labelled",
        "enriched",
        "containing",
        "rich",
        "loaded",
        "gfp",
        "egfp",
        "mcherry",
        "associated",
        "bearing",
        "carrying",
        "decorated",
        "tagged",
        "derived",
        "expressing",
        "high",
        "marked",
        "laden",
        "filled",
        "specific",
        "produced",
        "released",
        "generated",
        "secreted",
        "shed",
        "mediated",
        "dependent",
        "induced",
    }
)
RELATION_NEGATION_TARGETS = (
    "affect",
    "alter",
    "chang",
    "requir",
    "necessar",
    "essential",
    "need",
    "influenc",
    "impact",
    "effect",
    "reduc",
    "impair",
    "block",
    "decreas",
    "increas",
    "regulat",
    "modif",
    "abolish",
    "prevent",
    "inhibit",
    "enhanc",
    "promot",
    "involv",
    "contribut",
    "differ",
    "signific",
    "role",
)
DETERMINERS = frozenset({"the", "a", "an", "any", "detectable", "significant", "of", "in", "on"})


def _stem_in(text: str, stems: tuple[str, ...]) -> str:
    """The first stem that ``text`` (lower case) starts with, or ''.

    Adverbs are never cues: 'markedly' is not 'marked', 'highly' not 'high'."""
    # The same few thousand words meet the same few cue lists over and over: remember the
    # answers, one table per list (keyed by the list's identity, as hashing a long tuple on
    # every call would cost more than the search).
    known = _STEM_MEMOS.get(id(stems))
    if known is None or known[0] is not stems:
        known = _STEM_MEMOS[id(stems)] = (stems, {})
    answers = known[1]
    stem = answers.get(text)
    if stem is None:
        if len(answers) >= STEM_MEMO_SIZE:
            answers.clear()
        stem = answers[text] = _first_stem(text, stems)
    return stem


STEM_MEMO_SIZE = 1 << 15  # words remembered per cue list
_STEM_MEMOS: dict[int, tuple[tuple[str, ...], dict[str, str]]] = {}


def _first_stem(text: str, stems: tuple[str, ...]) -> str:
    if len(text) > 4 and text.endswith("ly"):
        return ""
    for stem in stems:
        if text.startswith(stem) if len(stem) > 3 else text == stem:
            return stem
    return ""


# Contrast openers by their last word, which stands right before the EV or its modifiers.
CONTRAST_OPENERS_BY_LAST_WORD: dict[str, tuple[tuple[str, ...], ...]] = {}
for _opener in CONTRAST_OPENERS:
    CONTRAST_OPENERS_BY_LAST_WORD[_opener[-1]] = (
        *CONTRAST_OPENERS_BY_LAST_WORD.get(_opener[-1], ()),
        _opener,
    )

# Anaphora phrases by their first word, each list in the order ANAPHORA gives them.
ANAPHORA_BY_FIRST_WORD: dict[str, tuple[tuple[str, ...], ...]] = {}
for _phrase in ANAPHORA:
    ANAPHORA_BY_FIRST_WORD[_phrase[0]] = (*ANAPHORA_BY_FIRST_WORD.get(_phrase[0], ()), _phrase)


@dataclass
class _Clause:
    start: int  # token indices within the Doc
    end: int
    opener: str  # first word, lower case
    mentions: list[SpanMention]
    contrast_evs: set[int]  # token starts of EV mentions inside a contrast phrase
    negated_mentions: set[int]  # token starts of mentions negated one by one ("but not X")
    previous: _Clause | None = None
    speculative: bool | None = None  # decided once, when a finding first needs it
    # starts of the mentions that modify the EV at each token index, once asked for
    compound_modifiers: dict[int, set[int]] = field(default_factory=dict)

    @cached_property
    def mention_at(self) -> dict[int, SpanMention]:
        """The clause's mentions by each token index they cover."""
        return {i: m for m in self.mentions for i in range(m.start, m.end)}


def findings_from_doc(doc: Doc, mentions: Sequence[SpanMention], pmid: str = "") -> list[Finding]:
    """Every finding the rules find in ``doc``; duplicates within a sentence removed."""
    findings: list[Finding] = []
    # The same sentences the mention finder searched: no other can tie anything to an EV.
    reached = set(claim_sentences(doc, mentions))
    if not reached:
        return findings
    previous_evs: list[SpanMention] = []  # EV mentions of the sentences read so far
    previous_subject = ""  # the EV the previous sentence opened with, for 'they'
    bounds = sentence_bounds(doc)
    by_sentence: list[list[SpanMention]] = [[] for _ in bounds]
    sentence_starts = [start for start, _ in bounds]
    for m in mentions:
        by_sentence[bisect_right(sentence_starts, m.start) - 1].append(m)
    for sentence_index, (start, end) in enumerate(bounds):
        in_sentence = by_sentence[sentence_index]
        if (start, end) not in reached:
            previous_subject = ""  # no finding here, and no subject for a pronoun next
            continue
        sentence = doc[start:end]
        in_sentence = _resolve_anaphora(doc, sentence, in_sentence, previous_evs, previous_subject)
        seen: set[tuple[str, str, str, bool, bool]] = set()
        for finding in _sentence_findings(doc, sentence, sentence_index, in_sentence, pmid):
            key = (
                finding.ev_type,
                finding.category,
                finding.entity_id,
                finding.negated,
                finding.speculative,
            )
            if key not in seen:
                seen.add(key)
                findings.append(finding)
        evs = [m for m in in_sentence if m.kind == "ev_type"]
        previous_evs.extend(evs)
        opener = in_sentence[0] if in_sentence else None
        previous_subject = opener.entity_id if opener and opener.kind == "ev_type" else ""
    return findings


PREPOSITIONS_BEFORE_OBJECT = frozenset(
    {"to", "from", "by", "with", "on", "along", "at", "of", "into", "onto", "near", "behind"}
)


def _after_preposition(doc: Doc, mention: SpanMention) -> bool:
    lowers = token_lowers(doc)
    k = mention.start - 1
    while k >= 0 and lowers[k] in {"the", "a", "an", "their", "its", "thin", "long"}:
        k -= 1
    return k >= 0 and lowers[k] in PREPOSITIONS_BEFORE_OBJECT


def _antecedent(
    earlier_in_sentence: list[SpanMention], previous_evs: list[SpanMention], noun: str
) -> str:
    """The EV a 'these vesicles' points back to: the last one named, preferring a specific
    type over the generic 'EVs' named alongside it. Retraction fibres are no vesicles:
    only 'these structures' may stand for them."""
    for pool in (earlier_in_sentence, previous_evs[-4:]):
        if not noun.startswith("structure"):
            pool = [m for m in pool if m.entity_id != FIBRE_EV_TYPE]
        if not pool:
            continue
        specific = [m for m in pool if m.entity_id != "EV:extracellular_vesicle"]
        return (specific or pool)[-1].entity_id
    return ""


def _resolve_anaphora(
    doc: Doc,
    sentence: Span,
    mentions: list[SpanMention],
    previous_evs: list[SpanMention],
    previous_subject: str,
) -> list[SpanMention]:
    """'These vesicles' stand for the EV last named; 'they' for the EV the sentence (or the
    one before) is about; 'TSPAN4-positive vesicles' for the EV last named before it."""
    occupied = {i for m in mentions for i in range(m.start, m.end)}
    sentence_evs = [m for m in mentions if m.kind == "ev_type"]
    added: list[SpanMention] = []

    def add(start: int, end: int, target: str) -> None:
        span = doc[start:end]
        added.append(
            SpanMention(
                start,
                end,
                span.start_char,
                span.end_char,
                "ev_type",
                target,
                target,
                span.text,
                "anaphora",
            )
        )
        occupied.update(range(start, end))

    lowers = token_lowers(doc)
    for m in mentions:
        if m.kind == "ev_type":
            continue
        k = m.end
        linked = 0
        while k < sentence.end and lowers[k] in COMPOUND_LINKS and linked < 3:
            k += 1
            linked += 1
        if not linked or k >= sentence.end or lowers[k] not in EV_STAND_INS or k in occupied:
            continue
        target = _antecedent([e for e in sentence_evs if e.end <= m.start], previous_evs, lowers[k])
        if target:
            add(k, k + 1, target)
    # Lower-cased words once per sentence: building spans per token and phrase was the
    # single largest cost of reading.
    words = lowers[sentence.start : sentence.end]
    offset = sentence.start
    i = sentence.start
    while i < sentence.end:
        for phrase in ANAPHORA_BY_FIRST_WORD.get(words[i - offset], ()):
            end = i + len(phrase)
            if end > sentence.end or any(j in occupied for j in range(i, end)):
                continue
            if tuple(words[i - offset : end - offset]) != phrase:
                continue
            before = [e for e in sentence_evs if e.end <= i]
            if len(phrase) == 1:
                # A pronoun refers to the EV named before it in its sentence (not one inside a
                # prepositional phrase: 'connected to retraction fibres'), or to the EV the
                # previous sentence opened with.
                heads = [e for e in before if not _after_preposition(doc, e)]
                if heads and i - heads[-1].end <= 6 and lowers[i] == "their":
                    break  # 'migrasomes ... their growth': the named EV already says it
                target = heads[-1].entity_id if heads else previous_subject
            elif phrase in TYPED_ANAPHORA:
                named = {e.entity_id for e in [*before, *previous_evs[-4:]]}
                target = TYPED_ANAPHORA[phrase] if TYPED_ANAPHORA[phrase] in named else ""
            else:
                target = _antecedent(before, previous_evs, phrase[-1])
            if target:
                add(i, end, target)
                i = end - 1
            break
        i += 1
    return sorted([*mentions, *added], key=BY_START)


def _split_clauses(doc: Doc, sentence: Span, mentions: list[SpanMention]) -> list[_Clause]:
    breaks = [sentence.start]
    texts, lowers = token_texts(doc), token_lowers(doc)
    first, end = sentence.start, sentence.end
    for i in range(first, end):
        text, lower = texts[i], lowers[i]
        nxt = lowers[i + 1] if i + 1 < end else ""
        after = lowers[i + 2] if i + 2 < end else ""
        if text in {";", ":"}:
            breaks.append(i + 1)
        elif text == "," and nxt in CLAUSE_CONNECTIVES:
            if nxt == "but" and after == "not":
                continue
            if nxt == "and" and after not in {
                "thereby",
                "thus",
                "therefore",
                "we",
                "this",
                "these",
                "it",
                "they",
                "consequently",
            }:
                continue
            if nxt == "as" and after not in {"a", "an", "the", "well"}:
                continue
            breaks.append(i + 1)
        elif (lower in ALWAYS_CLAUSE_BREAK and i > first) or (
            lower == "but" and nxt != "not" and i > first and texts[i - 1] != ","
        ):
            breaks.append(i)
        elif lower in {"and", "but"} and nxt in MODALS and i > first:
            breaks.append(i)  # '... and could be exploited': a new, hedged predicate
    breaks = [*sorted(set(breaks)), sentence.end]
    clauses: list[_Clause] = []
    for start, end in itertools.pairwise(breaks):
        if start >= end:
            continue
        members = [m for m in mentions if start <= m.start < end]
        opener = lowers[start]
        clauses.append(
            _Clause(
                start,
                end,
                opener,
                members,
                _contrast_evs(doc, start, members),
                _individually_negated(doc, start, members),
                clauses[-1] if clauses else None,
            )
        )
    return clauses


def _contrast_evs(doc: Doc, clause_start: int, mentions: list[SpanMention]) -> set[int]:
    found = set()
    occupied = {i for m in mentions for i in range(m.start, m.end)}
    texts, lowers = token_texts(doc), token_lowers(doc)
    for m in mentions:
        if m.kind != "ev_type":
            continue
        # the opener may stand up to two modifiers before the EV ("unlike other EVs")
        for gap in range(0, 3):
            end = m.start - gap
            if end <= clause_start:
                break
            if gap and (end in occupied or not texts[end].isalpha()):
                break  # a modifier must be a free word
            for opener in CONTRAST_OPENERS_BY_LAST_WORD.get(lowers[end - 1], ()):
                begin = end - len(opener)
                if begin >= clause_start and tuple(lowers[begin:end]) == opener:
                    found.add(m.start)
    return found


def _individually_negated(doc: Doc, clause_start: int, mentions: list[SpanMention]) -> set[int]:
    """Mentions negated on their own: 'but not exosomes', 'neither X nor Y', 'no CD63'."""
    found = set()
    occupied = {i for m in mentions for i in range(m.start, m.end)}
    texts, lowers = token_texts(doc), token_lowers(doc)
    last = len(texts) - 1
    modifier_at = {i: c for c in mentions if c.kind == "cell_type" for i in range(c.start, c.end)}
    for m in mentions:
        k = m.start - 1
        if m.kind == "ev_type":
            while k in modifier_at:
                k = modifier_at[k].start - 1  # 'but not neutrophil migrasomes'
        skipped = 0
        while k >= clause_start and skipped < 6 and k not in occupied:
            lower, alpha = lowers[k], texts[k].isalpha()
            if not (
                lower in DETERMINERS
                or (
                    alpha
                    and lower not in NEGATION_WORDS
                    and lower not in GLUE_WORDS
                    and not _stem_in(lower, ALL_CUES)
                )
                or texts[k] == "-"
                or (alpha and k < last and texts[k + 1] == "-")
                or (alpha and k > 0 and texts[k - 1] == "-")
            ):
                break
            k -= 1
            skipped += 1
        if k >= clause_start and lowers[k] in {"not", "nor", "neither", "no"}:
            found.add(m.start)
    return found


class _Participant(NamedTuple):
    """A mention as it takes part in one clause; a carried subject sits at the clause start."""

    mention: SpanMention
    start: int
    end: int


class _Link(NamedTuple):
    ev: _Participant
    cue: str
    cue_class: str  # marker, cargo, effect, function, producer, method, compound, disease, size
    score: float


def _sentence_findings(
    doc: Doc, sentence: Span, sentence_index: int, mentions: list[SpanMention], pmid: str
) -> Iterable[Finding]:
    clauses = _split_clauses(doc, sentence, mentions)
    evidence = doc_text(doc)[sentence.start_char : sentence.end_char].strip()
    previous: _Clause | None = None
    for clause in clauses:
        evs = [_Participant(m, m.start, m.end) for m in clause.mentions if m.kind == "ev_type"]
        entities = [_Participant(m, m.start, m.end) for m in clause.mentions if m.kind != "ev_type"]
        if previous is not None:
            evs, entities = _carry_subject(doc, clause, previous, evs, entities)
        for entity in entities:
            classify = _classifier(doc, clause, entity)
            links = _choose_links(doc, clause, entity, evs, classify)
            if not links:
                continue
            decided = classify(links[0])
            if decided is None:
                continue
            category, predicate = decided
            if clause.speculative is None:
                clause.speculative = _speculative(doc, clause, sentence)
            # 'may be restricted to neutrophil migrasomes' hedges the restriction, not
            # that neutrophils make migrasomes
            speculative = clause.speculative and not _names_its_maker(links[0], category)
            for link in links:
                negated = _negated(doc, clause, entity, link, category)
                m = entity.mention
                yield Finding(
                    pmid=pmid,
                    ev_type=link.ev.mention.entity_id,
                    category=category,
                    entity=m.name,
                    entity_id=m.entity_id,
                    predicate=predicate,
                    negated=negated,
                    speculative=speculative,
                    evidence=evidence,
                    sentence_index=sentence_index,
                    start_char=m.start_char,
                    end_char=m.end_char,
                    unlisted=m.unlisted,
                    size_min_nm=m.size_min_nm,
                    size_max_nm=m.size_max_nm,
                )
        previous = clause


MODALS = frozenset({"could", "may", "might", "would", "should", "can", "will"})
AUXILIARIES = frozenset(
    [
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "has",
        "have",
        "had",
        "did",
        "does",
        "do",
        "could",
        "may",
        "might",
        "can",
        "would",
        "should",
        "also",
        "then",
        "thereby",
        "thus",
        "instead",
    ]
)


def _carry_subject(
    doc: Doc,
    clause: _Clause,
    previous: _Clause,
    evs: list[_Participant],
    entities: list[_Participant],
) -> tuple[list[_Participant], list[_Participant]]:
    """Give a clause whose subject is elided ('…, which carry X', 'but was excluded from
    migrasomes') the subject of the clause before it."""
    first_words = token_lowers(doc)[clause.start : min(clause.start + 2, clause.end)]
    opener = first_words[0] if first_words else ""
    elided = (
        opener in SUBJECT_CARRYING_STARTS
        or opener in AUXILIARIES
        or (
            opener in {"but", "and", "whereas", "while"}
            and len(first_words) > 1
            and (
                first_words[1] in AUXILIARIES
                or first_words[1] == "not"
                # 'absent from migrasomes but present in exosomes': a predicate, no subject
                or (
                    clause.start + 1 not in clause.mention_at
                    and bool(_stem_in(first_words[1], ALL_CUES))
                )
            )
        )
    )
    if not elided or not previous.mentions:
        return evs, entities
    subject = previous.mentions[0]
    if opener in {"which", "that", "who", "whose"}:
        subject = previous.mentions[-1]  # a relative clause is about what precedes it
    carried = _Participant(subject, clause.start, clause.start)
    if subject.kind == "ev_type":
        if subject.start in previous.contrast_evs:
            return evs, entities
        live = [e for e in evs if e.mention.start not in clause.contrast_evs]
        if not live:
            evs = [*evs, carried]
    elif not any(e.mention is subject for e in entities):
        entities = [carried, *entities]  # 'CD151, which X upregulated, was necessary for ...'
    return evs, entities


def _path(doc: Doc, a: _Participant, b: _Participant) -> list[int]:
    """Indices of the tokens strictly between two participants, without parenthetical
    asides."""
    first, second = (a, b) if a.start <= b.start else (b, a)
    texts = token_texts(doc)
    tokens = []
    depth = 0
    for i in range(first.end, second.start):
        if texts[i] in {"(", "["}:
            depth += 1
        elif texts[i] in {")", "]"}:
            depth = max(0, depth - 1)
        elif depth == 0:
            tokens.append(i)
    return tokens


def _is_compound(doc: Doc, entity: _Participant, ev: _Participant) -> bool:
    """'TSPAN4-positive migrasomes', 'neutrophil-derived migrasomes', 'migrasome-mediated X'."""
    if entity.end <= ev.start:
        between = range(entity.end, ev.start)
    elif ev.end <= entity.start:
        between = range(ev.end, entity.start)
    else:
        return False
    if entity.start == entity.end or ev.start == ev.end:
        return False  # carried subjects are never compounds
    lowers = token_lowers(doc)
    if ev.mention.source == "anaphora" and lowers[ev.start] in {"they", "them", "their"}:
        return False
    if (
        entity.end <= ev.start
        and len(between) > 1
        and lowers[between[0]] == "-"
        and lowers[between[1]] in {"and", "or", ","}
    ):
        # 'TSPAN4- and ITGA5-positive migrasomes': the first gene shares the second's suffix
        k = 2
        while k < len(between) and (
            doc[between[k]].ent_id_ or lowers[between[k]] in {"and", "or", ","}
        ):
            k += 1
        between = between[k:]
    return len(between) <= 3 and all(lowers[i] in COMPOUND_LINKS for i in between)


CUE_CLASSES_BY_KIND: dict[str, tuple[str, ...]] = {
    "gene": ("marker", "cargo", "effect"),
    "probe": ("marker", "cargo", "effect"),
    "cargo": ("marker", "cargo", "effect"),
    "biogenesis": ("marker", "cargo", "effect", "origin"),
    "function": ("function",),
    "cell_type": ("producer",),
    "method": ("method",),
    "disease": (),
    "size": (),
}
CUES_BY_CLASS: dict[str, tuple[str, ...]] = {
    "origin": ("from", "arise", "arose", "originat", "deriv", "forme", "forms", "formi", "bud"),
    "marker": MARKER_CUES,
    "cargo": CARGO_CUES,
    "effect": EFFECT_CUES,
    "function": FUNCTION_CUES,
    "producer": PRODUCER_CUES,
    "method": METHOD_CUES,
}
ALL_CUES = tuple({c for cues in CUES_BY_CLASS.values() for c in cues})
OBLIQUE_BEFORE = frozenset(
    {
        "at",
        "along",
        "on",
        "near",
        "behind",
        "beneath",
        "around",
        "across",
        "toward",
        "towards",
        "tip",
        "tips",
        "end",
        "ends",
        "site",
        "sites",
        "base",
        "neck",
        "surface",
        "point",
        "points",
        "edge",
        "edges",
        "length",
        "rear",
        "branch",
    }
)
MAX_CONTENT_WORDS = 4


def _cue_class(word: str, classes: Sequence[str]) -> str:
    for name in classes:
        if _stem_in(word, CUES_BY_CLASS[name]):
            return name
    return ""


def _modifies_another_noun(
    doc: Doc, clause: _Clause, entity: _Participant, ev: _Participant
) -> bool:
    """True when the entity only qualifies a following noun that is not the EV:
    'CD8+ T cells', 'tumour-associated macrophages', 'monocyte influx', 'HCC (HCC) cells'."""
    if entity.start == entity.end:
        return False
    texts, lowers = token_texts(doc), token_lowers(doc)
    k = entity.end
    if entity.start > 0 and texts[entity.start - 1] == "(" and k < clause.end and texts[k] == ")":
        k += 1  # '(HCC) cells': look past the brackets
    if k < clause.end and texts[k] in {"(", "["}:
        depth = 0
        while k < clause.end:
            depth += texts[k] in {"(", "["}
            depth -= texts[k] in {")", "]"}
            k += 1
            if depth == 0:
                break
    linked = 0
    while k < clause.end and lowers[k] in COMPOUND_LINKS and linked < 3:
        if _looks_like_a_verb(lowers[k]) and texts[k - 1] not in COMPOUND_JOINERS:
            # 'Tspan9-produced MLVs' is a compound; in 'mice lacking Tspan9 produced fewer
            # MLVs' and 'EOGT-mCherry labelled them' the verb is the predicate
            return False
        k += 1
        linked += 1
    if k >= clause.end or k == ev.start:
        return False
    if any(w in PERTURBED_LINKS for w in lowers[entity.end : k + 1]):
        return False  # 'Cd151-deficient macrophages produced fewer migrasomes' is about CD151
    if lowers[k] in VERB_PREFIXES and k + 2 < clause.end and texts[k + 1] in COMPOUND_JOINERS:
        k += 2  # 'Sms2 co-localised', 'TSPAN4 re-expressed': the word is the verb after it
    head, head_is_alpha = lowers[k], texts[k].isalpha()
    if not head_is_alpha or head in GLUE_WORDS or head in TRANSPARENT_HEADS:
        return linked > 0 and head_is_alpha and head not in GLUE_WORDS
    following = [m for m in clause.mentions if m.start == k]
    if following and following[0].kind == "method" and entity.mention.kind in MOLECULAR_KINDS:
        return False  # 'TSPAN4 immunofluorescence', 'CD63 western blotting': the thing detected
    if following:
        return True  # 'OT-I CD8+ T cells', 'TSPAN4-GFP L929 cells': it qualifies the next one
    if linked == 0 and (_looks_like_a_verb(head) or head in AUXILIARIES or head in MODALS):
        return False  # 'Tspan9 produced fewer MLVs': a predicate follows, not a head noun
    classes = (*CUE_CLASSES_BY_KIND.get(entity.mention.kind, ()), "effect")
    return not _cue_class(head, classes) or linked > 0


VERB_PREFIXES = frozenset({"co", "re"})  # split from their verb by the tokenizer
NOT_VERBS_IN_ED = frozenset({"bed", "seed", "speed", "red", "need", "feed", "breed", "shed"})


def _looks_like_a_verb(word: str) -> bool:
    """A past form ('produced', 'formed') rather than a head noun ('influx', 'numbers')."""
    return len(word) > 4 and word.endswith("ed") and word not in NOT_VERBS_IN_ED


SUBSTRATE_VERBS = ("depend", "reli", "rely", "act", "based")


def _is_substrate(doc: Doc, clause: _Clause, entity: _Participant) -> bool:
    """'crawling on fibronectin', 'fibronectin-coated': a surface, not a claimed entity."""
    if entity.start == entity.end:
        return False
    lowers = token_lowers(doc)
    k = entity.start - 1
    while k >= clause.start and lowers[k] in {"a", "an", "the"}:
        k -= 1
    if k >= clause.start and lowers[k] in {"on", "onto"}:
        return not (k > clause.start and _stem_in(lowers[k - 1], SUBSTRATE_VERBS))
    after = lowers[entity.end : min(entity.end + 2, clause.end)]
    return any(w in {"coated", "coating", "substrate", "substrates", "matrix"} for w in after)


def _named_as_cargo(
    doc: Doc, clause: _Clause, entity: _Participant, mention_at: dict[int, SpanMention]
) -> bool:
    """'X and Y among their most abundant cargo', 'the cargo X': a cargo noun close to the
    entity with no other, uncoordinated molecule in between."""
    if entity.start == entity.end:
        return False
    lowers = token_lowers(doc)
    window = [
        *range(max(clause.start, entity.start - 3), entity.start),
        *range(entity.end, min(clause.end, entity.end + 10)),
    ]
    for i in window:
        other = mention_at.get(i)
        if (
            other is not None
            and other is not entity.mention
            and other.kind in MOLECULAR_KINDS
            and i > entity.start
            and not _coordinated(doc, clause, entity.mention, other)
        ):
            return False
        if lowers[i] in CARGO_NOUNS and i not in mention_at:
            return True
    return False


def _compound_modifiers_of(doc: Doc, clause: _Clause, ev: _Participant) -> set[int]:
    """Starts of mentions that modify the EV noun: 'TSPAN4-positive' in 'TSPAN4-positive
    migrasomes'."""
    known = clause.compound_modifiers.get(ev.start)
    if known is not None:
        return known
    found = set()
    lowers = token_lowers(doc)
    for m in clause.mentions:
        if (
            m.end <= ev.start
            and ev.start - m.end <= 3
            and all(w in COMPOUND_LINKS for w in lowers[m.end : ev.start])
        ):
            found.add(m.start)
    clause.compound_modifiers[ev.start] = found
    return found


COORDINATION_WORDS = frozenset(
    {
        ",",
        "and",
        "or",
        "as",
        "well",
        "(",
        ")",
        "the",
        "nor",
        "also",
        "-",
        "+",
        "but",
        "not",
        "both",
        "either",
        "neither",
    }
)


def _coordinated(doc: Doc, clause: _Clause, a: SpanMention, b: SpanMention) -> bool:
    """Two mentions in one list: 'NDST1, PIGK and CPQ', 'TSPAN7-GFP and TSPAN9-GFP'."""
    first, second = (a, b) if a.start <= b.start else (b, a)
    listed = {
        i
        for m in clause.mentions
        if m.kind == a.kind or m.kind in MOLECULAR_KINDS
        for i in range(m.start, m.end)
    }
    lowers = token_lowers(doc)
    between = [lowers[i] for i in range(first.end, second.start) if i not in listed]
    return len(between) <= 6 and all(
        w in COORDINATION_WORDS or w in CONSTRUCT_TAGS for w in between
    )


def _coordinated_cell_modifiers(
    lowers: list[str], clause: _Clause, path: list[int], ev: _Participant
) -> bool:
    """'macrophage and fibroblast migrasomes': between the cell and the EV only 'and', 'or',
    commas and the other cell types that modify it."""
    if not path or path[-1] != ev.start - 1:
        return False
    for i in path:
        other = clause.mention_at.get(i)
        if other is None and lowers[i] not in {"and", "or", ","}:
            return False
        if other is not None and other.kind != "cell_type":
            return False
    return clause.mention_at.get(ev.start - 1) is not None


def _perturbs_another(doc: Doc, clause: _Clause, entity: _Participant, i: int) -> bool:
    """Whether the word at ``i`` is a perturbation of another molecule, not one coordinated
    with the entity: 'depletion of the ESCRT-III subunit CHMP4B'."""
    lowers = token_lowers(doc)
    if lowers[i] not in PERTURBATION_WORDS or i + 1 >= clause.end or lowers[i + 1] != "of":
        return False
    for j in range(i + 2, min(i + 6, clause.end)):
        other = clause.mention_at.get(j)
        if other is not None:
            return (
                other is not entity.mention
                and other.kind in MOLECULAR_KINDS
                and not _coordinated(doc, clause, entity.mention, other)
            )
    return False


def _says_colocalised(lowers: list[str], i: int) -> bool:
    """'co-localised with CD63 in migrasomes': both molecules mark the EV."""
    return lowers[i].startswith("coloc") or (i > 1 and lowers[i - 2 : i] == ["co", "-"])


def _cue_allowed(word: str, after_cue: str, i: int, entity: _Participant, ev: _Participant) -> bool:
    """Prepositions link only the mention right next to them ('in podocytes',
    'enriched on migrasomes'), never a word three phrases away. ``word`` is the cue,
    lower case, at token index ``i``."""
    if word in CONSTRUCT_TAGS:
        return entity.end <= i <= entity.end + 1  # 'TSPAN4-GFP' labels only TSPAN4
    if word in FORMATION_NOUNS and (i == ev.end or (i == ev.start - 2 and after_cue == "of")):
        # 'migrasome release', 'the release of migrasomes' name the formation, not a
        # cargo's release; in 'did not release migrasomes' the word is the verb
        return False
    if word not in ADJACENT_ONLY_CUES:
        return True
    near_entity = entity.start - 3 <= i < entity.start or entity.end <= i < entity.end + 1
    near_ev = ev.start - 3 <= i < ev.start or ev.end <= i < ev.end + 1
    if word == "on":
        return ev.start - 3 <= i < ev.start  # 'X on migrasomes', not 'RFs on the substrate'

    if entity.mention.kind == "cell_type" and word in {"in", "by", "from", "of"}:
        return entity.start - 3 <= i < entity.start  # 'released by neutrophils'
    return near_entity or near_ev


MOLECULAR_KINDS = frozenset({"gene", "cargo", "probe", "biogenesis"})
PERTURBED_LINKS = frozenset(
    {
        "deficient",
        "knockout",
        "null",
        "depleted",
        "silenced",
        "knockdown",
        "overexpressing",
        "lacking",
        "deleted",
        "mutant",
        "ko",
        "kd",
        "-/-",
        "−/−",
        "inhibited",
        "treated",
    }
)
NOUN_CUES_AFTER_EV = frozenset(
    {
        "marker",
        "markers",
        "biomarker",
        "biomarkers",
        "cargo",
        "cargoes",
        "content",
        "contents",
        "formation",
        "biogenesis",
        "production",
        "release",
        "number",
        "numbers",
        "component",
        "components",
        "constituent",
        "constituents",
        "protein",
        "proteins",
        "membrane",
        "surface",
    }
)
CARGO_NOUNS = frozenset({"cargo", "cargoes", "cargos", "contents", "content", "payload"})


def _link(doc: Doc, clause: _Clause, entity: _Participant, ev: _Participant) -> _Link | None:
    kind = entity.mention.kind
    if _is_compound(doc, entity, ev):
        return _Link(ev, "compound", "compound", 0.0)
    path = _path(doc, entity, ev)
    if kind == "size":
        return _size_link(doc, clause, entity, ev, path)
    if _modifies_another_noun(doc, clause, entity, ev) or _is_substrate(doc, clause, entity):
        return None
    mention_at = clause.mention_at
    texts, lowers = token_texts(doc), token_lowers(doc)
    if kind == "cell_type" and (
        entity.end == ev.start or _coordinated_cell_modifiers(lowers, clause, path, ev)
    ):
        # 'neutrophil migrasomes', 'absent from macrophage and DC migrasomes': the cell
        # modifies the EV, whatever word stands before it
        return _Link(ev, "", "producer", 0.1 * len(path))
    content = [
        i
        for i in path
        if i not in mention_at
        and lowers[i] not in GLUE_WORDS
        and not punct_or_number(doc, texts[i])
        and not _stem_in(lowers[i], ALL_CUES)
    ]
    if len(content) > MAX_CONTENT_WORDS:
        return None
    classes = CUE_CLASSES_BY_KIND.get(kind, ())
    # Scan from the entity towards the EV, then just after the EV ('migrasome markers'),
    # then the few words before the pair ('loss of X', 'the role of migrasomes in X').
    entity_first = entity.start <= ev.start
    ordered = path if entity_first else list(reversed(path))
    later_end = max(entity.end, ev.end)
    # After the EV only nouns count: 'migrasome markers'; a verb there has the EV as subject.
    after = (
        [
            i
            for i in range(later_end, min(clause.end, later_end + 2))
            if lowers[i] in NOUN_CUES_AFTER_EV
        ]
        if entity_first
        else []
    )
    earlier = min(entity.start, ev.start)
    before = list(reversed(range(max(clause.start, earlier - 3), earlier)))
    cue, cue_class = "", ""
    cue_outside_path = False
    ev_modifiers = _compound_modifiers_of(doc, clause, ev)
    past_other = False  # a cue after another molecule is said of that molecule
    # 'exosomes were CD9+CD63+ double-positive': the mark follows the entity itself
    attached = (
        []
        if entity_first
        else [
            i
            for i in range(entity.end, min(entity.end + 2, clause.end))
            if lowers[i] in {"+", "positive"}
        ]
    )
    for position, i in enumerate([*ordered, *after, *before, *attached]):
        in_path = position < len(ordered)
        word = lowers[i]
        other = mention_at.get(i)
        if other is not None:
            if (
                entity_first
                and in_path
                and kind in MOLECULAR_KINDS
                and other.kind in MOLECULAR_KINDS
                and other is not entity.mention
                and other.start not in ev_modifiers
                and not _coordinated(doc, clause, entity.mention, other)
            ):
                past_other = True
            continue
        found = _cue_class(word, classes)
        if (
            word == "for"
            and kind in MOLECULAR_KINDS
            and i == entity.start - 1
            and (detector := mention_at.get(i - 1)) is not None
            and detector.kind == "method"
        ):
            found = "marker"  # 'western blotting for TSPAN4', 'immunofluorescence for CPQ'
        after_cue = lowers[i + 1] if i + 1 < len(lowers) else ""
        if not found or not _cue_allowed(word, after_cue, i, entity, ev):
            continue
        if word.startswith("expos") and after_cue == "to":
            continue  # 'cells exposed to TNF': a treatment, not a surface mark
        if word.startswith(MARKER_CUES_BEFORE_TO) and after_cue != "to":
            continue  # 'restricted to migrasomes' places X; 'restricted their formation' does not
        if word == "specific" and texts[i - 1] in COMPOUND_JOINERS and ev.end != i - 1:
            continue  # 'its neutrophil-specific deletion' says where, not what marks
        if entity_first and in_path and _perturbs_another(doc, clause, entity, i):
            if any(
                w in PERTURBATION_WORDS for w in lowers[max(0, entity.start - 4) : entity.start]
            ):
                continue  # 'neither depletion of A nor knockdown of B altered…': both claim
            break  # 'cells expressing Tspan4-GFP, depletion of CHMP4B did not…': CHMP4B's
        if past_other and found in {"cargo", "marker"}:
            break  # 'filipin staining showed that cholesterol was concentrated in migrasomes'
        if (
            entity_first
            and in_path
            and kind in MOLECULAR_KINDS
            and found in {"cargo", "marker"}
            and not _says_colocalised(lowers, i)
            and any(
                m.kind in MOLECULAR_KINDS
                and m is not entity.mention
                and m.start not in ev_modifiers
                and not _coordinated(doc, clause, entity.mention, m)
                for j in ordered[position + 1 :]
                if (m := mention_at.get(j)) is not None
            )
        ):
            continue  # 'KIF5B transported mitochondria into migrasomes': KIF5B is no cargo
        cue, cue_class = word, found
        cue_outside_path = not in_path
        break
    if kind in MOLECULAR_KINDS and _named_as_cargo(doc, clause, entity, mention_at):
        cue, cue_class = "cargo", "cargo"  # 'among their most abundant cargo'
    if kind == "disease":
        words = [lowers[i] for i in [*path, *before]]
        if not any(_stem_in(w, DISEASE_CUES) for w in words):
            return None
        cue_class = "disease"
    elif not cue_class:
        return None
    score = len(content) + 0.1 * len(path) + (1.0 if cue_outside_path else 0.0)
    if ev.start > 0 and lowers[ev.start - 1] in OBLIQUE_BEFORE:
        score += 2.0
    if ev.start > 1 and lowers[ev.start - 1] == "of" and lowers[ev.start - 2] in OBLIQUE_BEFORE:
        score += 2.0
    if ev.end <= entity.start and path and texts[path[0]] == ",":
        score += 2.0  # the EV ended a phrase before the verb that governs the entity
    return _Link(ev, cue, cue_class, score)


SIZE_STOP_WORDS = frozenset(
    {
        "filter",
        "filters",
        "pore",
        "pores",
        "bar",
        "membrane",
        "membranes",
        "wide",
        "width",
        "thick",
        "thickness",
        "long",
        "length",
        "beads",
        "bead",
        "apart",
        "spacing",
        "interval",
    }
)


def _size_link(
    doc: Doc, clause: _Clause, entity: _Participant, ev: _Participant, path: list[int]
) -> _Link | None:
    trailing = token_lowers(doc)[entity.end : min(entity.end + 2, clause.end)]
    if any(w in SIZE_STOP_WORDS for w in trailing):
        return None
    texts = token_texts(doc)
    words = [i for i in path if not doc.vocab[texts[i]].is_punct]
    if len(words) > SIZE_MAX_DISTANCE:
        return None
    other_sizes = [
        m
        for m in clause.mentions
        if m.kind == "size" and min(entity.start, ev.start) < m.start < max(entity.start, ev.start)
    ]
    if other_sizes:
        return None  # 'exosomes (30–150 nm) and migrasomes (0.5–3 µm)': each size its own
    score = len(words) + (0.5 if ev.start > entity.start else 0.0)  # sizes mostly follow
    return _Link(ev, "size", "size", score)


def _classifier(
    doc: Doc, clause: _Clause, entity: _Participant
) -> Callable[[_Link], tuple[str, str] | None]:
    """:func:`_classify` for the links of one entity, each link classified once (the
    rules ask first whether a link makes a claim, then what it claims)."""
    decided: dict[int, tuple[str, str] | None] = {}

    def classify(link: _Link) -> tuple[str, str] | None:
        if id(link) not in decided:
            decided[id(link)] = _classify(doc, clause, entity, link)
        return decided[id(link)]

    return classify


def _modifies_ev(entity: _Participant, ev: _Participant) -> bool:
    """'but not neutrophil migrasomes' still says that neutrophils make migrasomes."""
    return entity.mention.kind == "cell_type" and entity.end == ev.start


def _choose_links(
    doc: Doc,
    clause: _Clause,
    entity: _Participant,
    evs: list[_Participant],
    classify: Callable[[_Link], tuple[str, str] | None],
) -> list[_Link]:
    """The link to the EV this claim is about, plus EVs coordinated with it ('X and Y').

    The closest link that makes a claim wins: 'its inhibition with blebbistatin decreased
    migrasome release' skips the nearer 'growing migrasomes', about which it says nothing.
    """
    candidates = [
        e
        for e in evs
        if e.mention.start not in clause.contrast_evs
        and (e.mention.start not in clause.negated_mentions or _modifies_ev(entity, e))
        and not (e.start < entity.end and entity.start < e.end and e.start != e.end)
    ]
    links = [link for e in candidates if (link := _link(doc, clause, entity, e)) is not None]
    links = [link for link in links if classify(link) is not None]  # it makes a claim
    if not links:
        return []
    best = min(links, key=lambda link: (link.score, link.ev.start < entity.start))
    chosen = [best]
    if entity.mention.kind == "size":
        return chosen  # each EV of 'exosomes (30–150 nm) and exomeres (35 nm)' has its own
    lowers = token_lowers(doc)
    for other in evs:
        if other is best.ev or other.mention.entity_id == best.ev.mention.entity_id:
            continue
        if other.mention.start in clause.negated_mentions:
            chosen.append(_Link(other, best.cue, best.cue_class, best.score))
            continue
        if other not in candidates:
            continue
        between = _path(doc, best.ev, other)
        if len(between) <= 3 and all(
            lowers[i] in {"and", "or", ",", "as", "well", "both"} for i in between
        ):
            chosen.append(_Link(other, best.cue, best.cue_class, best.score))
    return chosen


# Words right before an EV that speak of how many formed, or how long they grew.
EV_COUNT_WORDS = frozenset({"fewer", "more"})
EV_LENGTH_VERBS = ("lengthen", "shorten", "elongat")


def _ev_is_formation(doc: Doc, clause: _Clause, ev: _Participant) -> bool:
    """'migrasome formation', 'formation of migrasomes', 'cells formed fewer migrasomes'."""
    if ev.start == ev.end:
        return False
    lowers = token_lowers(doc)
    after = lowers[ev.end : min(ev.end + 2, clause.end)]
    if after and (
        after[0] in FORMATION_NOUNS
        or (len(after) > 1 and after[0] == "-" and after[1] in FORMATION_NOUNS)
    ):
        return True
    before = lowers[max(clause.start, ev.start - 4) : ev.start]
    if before and before[-1] in EV_COUNT_WORDS:
        return True  # 'resulted in fewer migrasomes': the number formed
    if before and _stem_in(before[-1], EV_LENGTH_VERBS):
        return True  # 'blebbistatin lengthened RFs': how far they grew
    if "of" in before:
        index = len(before) - 1 - before[::-1].index("of")
        if any(w in FORMATION_NOUNS for w in before[:index]):
            return True
    wider = lowers[max(clause.start, ev.start - 5) : ev.start]
    return any(_stem_in(w, FORMATION_VERBS_OF_EV) and not w.endswith("ing") for w in wider)


def _classify(
    doc: Doc, clause: _Clause, entity: _Participant, link: _Link
) -> tuple[str, str] | None:
    """(category, predicate) for the claim tying ``entity`` to ``link.ev``, or None."""
    kind = entity.mention.kind
    ev = link.ev
    if kind in {"organ", "cell_line"}:
        return None
    if kind == "size":
        return "size", "has_size"
    if kind == "disease":
        return "disease", "implicated_in"
    entity_first = entity.start < ev.start
    lowers = token_lowers(doc)
    if link.cue_class == "compound":
        between = lowers[entity.end : ev.start] if entity_first else lowers[ev.end : entity.start]
        return _compound_category(kind, between, entity_first)
    if kind in {"gene", "probe", "cargo", "biogenesis"}:
        formation = _ev_is_formation(doc, clause, ev)
        if (
            formation
            and link.cue_class in {"marker", "cargo"}
            and any(
                _stem_in(lowers[i], EFFECT_CUES) or lowers[i] in PERTURBATION_WORDS
                for i in [
                    *_path(doc, entity, ev),
                    *range(max(clause.start, entity.start - 2), entity.start),  # 'lacking X'
                ]
            )
        ):
            # 'mice lacking Tspan9 produced fewer MLVs': a perturbation, not a marker
            return "biogenesis", f"regulates_formation:{link.cue}"
        if link.cue_class in {"marker", "cargo"} and (
            (formation and _names_a_time(lowers, ev))
            or _in_relative_clause(lowers, clause, entity, ev)
        ):
            # 'accumulated along RFs before migrasome nucleation', 'along RFs that
            # prefigured migrasome positions': the place is the nearer EV, not this one
            return None
        if link.cue_class == "origin":
            return "biogenesis", f"forms_from:{link.cue}"
        if link.cue_class == "effect" or (link.cue_class == "producer" and formation):
            if formation or _stem_in(link.cue, REQUIREMENT_CUES):
                return "biogenesis", f"regulates_formation:{link.cue}"
            return None
        if link.cue_class == "producer":
            return None
        if kind == "probe":
            return "marker", f"labelled_by:{link.cue}"
        if (
            kind == "cargo"
            and link.cue_class == "marker"
            and not _stem_in(link.cue, STRONG_MARKER_CUES)
        ):
            return "cargo", f"carries:{link.cue}"
        return (
            link.cue_class,
            f"{'marked_by' if link.cue_class == 'marker' else 'carries'}:{link.cue}",
        )
    if kind == "function":
        if _ev_is_formation(doc, clause, ev):
            return None  # 'inhibitors reduced migrasome number without slowing migration'
        return "function", f"performs:{link.cue}"
    if kind == "cell_type":
        # A cell that modifies the EV ('to macrophage migrasomes') made it; otherwise the
        # words between them and just before them say whether it received it.
        earlier = min(entity.start, ev.start)
        around = [*_path(doc, entity, ev), *range(max(clause.start, earlier - 6), earlier)]
        if link.cue and any(
            _stem_in(lowers[i], RECIPIENT_CUES)
            # 'delivered to macrophages'; not 'macrophages failed to form them' or
            # 'confined to migrasomes of fibroblast origin'
            and (lowers[i] not in RECIPIENT_PREPOSITIONS or entity.start - 2 <= i < entity.start)
            for i in around
        ):
            return None
        # a cell that modifies the EV ('neutrophil migrasomes') has no cue word
        return "cell_type", f"produced_by:{link.cue}" if link.cue else "produced_by"
    if kind == "method":
        return "method", f"studied_by:{link.cue}"
    return None


RELATIVE_WORDS = frozenset({"that", "which", "where", "whose"})


def _in_relative_clause(
    lowers: list[str], clause: _Clause, entity: _Participant, ev: _Participant
) -> bool:
    """Whether ``ev`` sits in a relative clause about another EV between it and the entity."""
    if entity.start > ev.start:
        return False
    return any(
        other.kind == "ev_type"
        and entity.end <= other.start
        and other.end < ev.start
        and lowers[other.end] in RELATIVE_WORDS
        for other in clause.mentions
    )


def _names_a_time(lowers: list[str], ev: _Participant) -> bool:
    """'before migrasome nucleation', 'prior to migrasome formation': the EV dates a claim."""
    before = lowers[max(0, ev.start - 2) : ev.start]
    return bool(before) and (before[-1] in TIME_PREPOSITIONS or before == ["prior", "to"])


RECIPIENT_PREPOSITIONS = frozenset({"to", "into", "toward", "towards"})


def _compound_category(kind: str, between: list[str], entity_first: bool) -> tuple[str, str] | None:
    """'X-positive migrasomes' (marker), 'X-derived migrasomes' (producer cell),
    'migrasome-mediated X' (function), 'exosomal X' (cargo)."""
    producing = any(
        w in {"derived", "produced", "released", "generated", "secreted", "shed"} for w in between
    )
    if kind == "cell_type":
        return ("cell_type", "produced_by") if entity_first else None
    if kind == "function":
        if not entity_first and any(w in {"mediated", "dependent", "induced"} for w in between):
            return "function", "mediates"
        return None
    if kind in {"organ", "disease", "method", "size"}:
        return None
    if not entity_first:
        if any(w in {"associated", "bound", "localized", "localised", "resident"} for w in between):
            return "marker", "marked_by"  # 'migrasome-associated LOXL2'
        return "cargo", "carries"  # 'migrasomal DC-STAMP', 'exosomal miR-21'
    if producing or any(
        w in {"dependent", "mediated", "induced", "driven", "regulated", "independent"}
        for w in between
    ):
        return None  # 'ROCK1-dependent retraction fibre tension' says no more than that
    if any(_stem_in(w, CARGO_CUES) for w in between if w not in {"-", "+"}):
        return "cargo", "carries"
    return "marker", "marked_by"


def _negation_words(doc: Doc, clause: _Clause) -> list[int]:
    """Token indices of the clause's negation cues that scope over more than one mention."""
    found = []
    lowers = token_lowers(doc)
    skip = clause.mention_at
    for i in range(clause.start, clause.end):
        word = lowers[i]
        if word not in NEGATION_WORDS or i in skip:
            continue
        nxt = lowers[i + 1] if i + 1 < len(lowers) else ""
        if nxt in NOT_A_NEGATION_AFTER.get(word, frozenset()):
            continue
        if word in {"independent", "independently"} and not _independence(doc, i):
            continue
        if word in {"not", "nor", "neither", "no"} and _negates_next_mention(doc, clause, i):
            continue  # scoped to one mention: handled per mention
        found.append(i)
    return found


def _negates_next_mention(doc: Doc, clause: _Clause, cue: int) -> bool:
    lowers = token_lowers(doc)
    k = cue + 1
    while k < clause.end and lowers[k] in DETERMINERS:
        k += 1
    return any(m.start == k for m in clause.mentions)


def _names_its_maker(link: _Link, category: str) -> bool:
    """A cell named inside the EV's noun phrase: 'neutrophil(-derived) migrasomes'."""
    return category == "cell_type" and link.cue in {"", "compound"}


def _negated(doc: Doc, clause: _Clause, entity: _Participant, link: _Link, category: str) -> bool:
    ev = link.ev
    if _names_its_maker(link, category):
        # 'absent from macrophage migrasomes', 'but not neutrophil migrasomes' deny
        # nothing of the cells that made them
        return False
    if entity.mention.start in clause.negated_mentions or (
        ev.mention.start in clause.negated_mentions and ev.start == ev.mention.start
    ):
        return True
    if link.cue in {
        "lack",
        "lacked",
        "lacking",
        "lacks",
        "absent",
        "excluded",
        "devoid",
        "negative",
        "depleted",
    } and category in {"marker", "cargo"}:
        return True
    cues = _negation_words(doc, clause)
    if not cues:
        return False
    lowers = token_lowers(doc)
    first = min(entity.start, ev.start)
    last = max(entity.end, ev.end)
    if category in {"biogenesis", "function"}:
        # 'loss of X abolished migrasome formation' / 'X-deficient cells failed to form
        # migrasomes' assert that X is needed; only a denial of the effect itself negates.
        for cue in cues:
            word = lowers[cue]
            reach = clause.end if word in {"neither", "nor", "no"} else cue + 4
            window = lowers[cue : min(reach, clause.end)]
            if word in {"independent", "independently"} and not _independence(doc, cue):
                continue  # 'two independent siRNAs' denies nothing
            if word in {
                "independent",
                "independently",
                "dispensable",
                "unaffected",
                "unchanged",
                "unaltered",
            }:
                return True
            if word in {
                "not",
                "n't",
                "no",
                "never",
                "neither",
                "nor",
                "failed",
                "fail",
                "fails",
                "without",
            } and any(_stem_in(w, RELATION_NEGATION_TARGETS) for w in window[1:]):
                return True
        return False
    for cue in cues:
        if lowers[cue] in PERTURBATION_WORDS and cue < entity.start <= cue + 3:
            return True  # 'migrasomes lacking X', 'without X'
        if first - 4 <= cue < last:
            return True
    return False


# A consequence of a hedged clause is hedged too: 'X might carry Y, thereby fostering Z'.
CONSEQUENCE_OPENERS = frozenset({"thereby", "thus", "leading", "resulting", "which", "hence"})


def _independence(doc: Doc, cue: int) -> bool:
    """'independent of X', 'X-independent', 'was independent': a denial of dependence."""
    lowers = token_lowers(doc)
    nxt = lowers[cue + 1] if cue + 1 < len(lowers) else ""
    prev = lowers[cue - 1] if cue > 0 else ""
    return nxt == "of" or prev in {"-", "is", "was", "were", "are", "be", "been", "remained"}


def _speculative(doc: Doc, clause: _Clause, sentence: Span) -> bool:
    if _hedged(doc, clause):
        return True
    if (
        clause.opener in CONSEQUENCE_OPENERS
        and clause.previous is not None
        and _hedged(doc, clause.previous)
    ):
        return True
    # A hedge that governs the whole sentence ('These data suggest that ..., and ...').
    head = token_lowers(doc)[sentence.start : clause.start]
    return any(_stem_in(w, ("suggest", "hypothes", "propos", "speculat")) for w in head) and (
        "that" in head or "whether" in head
    )


def _hedged(doc: Doc, clause: _Clause) -> bool:
    lowers = token_lowers(doc)
    for i in range(clause.start, clause.end):
        word = lowers[i]
        if word in HEDGE_EXCLUDED_FORMS:
            continue
        if word in HEDGE_ADVERBS:
            return True
        stem = _stem_in(word, HEDGE_STEMS)
        if not stem:
            continue
        before = lowers[i - 1] if i > 0 else ""
        if stem == "potential" and before in {"membrane", "action", "zeta", "redox"}:
            continue
        if stem == "if" and before in {"even", "as"}:
            continue
        if word in {"could", "can"} and _reports_ability(doc, i):
            continue
        return True
    return False


ABILITY_PARTICIPLES = (
    "isolat",
    "recover",
    "detect",
    "observ",
    "visuali",
    "purif",
    "separat",
    "identif",
    "distinguish",
    "seen",
    "found",
    "imag",
    "collect",
    "enrich",
    "quantif",
    "track",
    "resolv",
    "captur",
    "obtain",
    "label",
    "stain",
    "measur",
    "harvest",
    "pellet",
)


def _reports_ability(doc: Doc, modal: int) -> bool:
    """'MDVs could be recovered by size-exclusion chromatography' reports a result."""
    following = token_lowers(doc)[modal + 1 : modal + 4]
    if following[:1] == ["be"] and len(following) > 1:
        return bool(_stem_in(following[1], ABILITY_PARTICIPLES))
    return bool(following) and bool(_stem_in(following[0], ABILITY_PARTICIPLES))

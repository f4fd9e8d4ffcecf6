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
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from spacy.tokens import Doc, Span, Token

from minemig.lexicon import (
    ALWAYS_CLAUSE_BREAK,
    ANAPHORA,
    CARGO_STEMS,
    CLAUSE_CONNECTIVES,
    CONTRAST_OPENERS,
    EFFECT_STEMS,
    FORMATION_NOUNS,
    FORMATION_VERBS_OF_EV,
    FUNCTION_STEMS,
    HEDGE_EXCLUDED_FORMS,
    HEDGE_STEMS,
    MARKER_STEMS,
    METHOD_STEMS,
    NEGATION_WORDS,
    NOT_A_NEGATION_AFTER,
    PERTURBATION_WORDS,
    PRODUCER_STEMS,
    RECIPIENT_STEMS,
)
from minemig.mentions import SpanMention
from minemig.models import Finding

RULES_VERSION = "minemig.clause_rules.v1"
MAX_DISTANCE = 18  # tokens between an entity and its EV mention
SIZE_MAX_DISTANCE = 10

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


def _stem_in(text: str, stems: Iterable[str]) -> str:
    """The first stem that ``text`` (lower case) starts with, or ''."""
    for stem in stems:
        if text.startswith(stem) if len(stem) > 3 else text == stem:
            return stem
    return ""


@dataclass
class _Clause:
    start: int  # token indices within the Doc
    end: int
    opener: str  # first word, lower case
    mentions: list[SpanMention]
    contrast_evs: set[int]  # token starts of EV mentions inside a contrast phrase
    negated_mentions: set[int]  # token starts of mentions negated one by one ("but not X")


def findings_from_doc(doc: Doc, mentions: Sequence[SpanMention], pmid: str = "") -> list[Finding]:
    """Every finding the rules find in ``doc``; duplicates within a sentence removed."""
    findings: list[Finding] = []
    ev_counts = Counter(m.entity_id for m in mentions if m.kind == "ev_type")
    main_ev = ev_counts.most_common(1)[0][0] if ev_counts else ""
    focus_ev = ""
    previous_first_kind = ""
    for sentence_index, sentence in enumerate(doc.sents):
        in_sentence = [m for m in mentions if sentence.start <= m.start < sentence.end]
        in_sentence = _resolve_anaphora(
            doc, sentence, in_sentence, focus_ev or main_ev, previous_first_kind == "ev_type"
        )
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
        if evs:
            focus_ev = Counter(m.entity_id for m in evs).most_common(1)[0][0]
        previous_first_kind = in_sentence[0].kind if in_sentence else ""
    return findings


def _resolve_anaphora(
    doc: Doc,
    sentence: Span,
    mentions: list[SpanMention],
    focus_ev: str,
    pronouns_allowed: bool,
) -> list[SpanMention]:
    """'These vesicles' and, after a sentence about an EV, 'they' stand for that EV type."""
    if not focus_ev:
        return mentions
    occupied = {i for m in mentions for i in range(m.start, m.end)}
    added = []
    i = sentence.start
    while i < sentence.end:
        for phrase in ANAPHORA:
            end = i + len(phrase)
            if end > sentence.end or any(j in occupied for j in range(i, end)):
                continue
            if tuple(t.lower_ for t in doc[i:end]) != phrase:
                continue
            if len(phrase) == 1 and not pronouns_allowed:
                continue
            span = doc[i:end]
            added.append(
                SpanMention(
                    i,
                    end,
                    span.start_char,
                    span.end_char,
                    "ev_type",
                    focus_ev,
                    focus_ev,
                    span.text,
                    "anaphora",
                )
            )
            i = end - 1
            break
        i += 1
    return sorted([*mentions, *added], key=lambda m: m.start)


def _split_clauses(doc: Doc, sentence: Span, mentions: list[SpanMention]) -> list[_Clause]:
    breaks = [sentence.start]
    tokens = list(sentence)
    for k, token in enumerate(tokens):
        nxt = tokens[k + 1].lower_ if k + 1 < len(tokens) else ""
        after = tokens[k + 2].lower_ if k + 2 < len(tokens) else ""
        if token.text in {";", ":"}:
            breaks.append(token.i + 1)
        elif token.text == "," and nxt in CLAUSE_CONNECTIVES:
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
            breaks.append(token.i + 1)
        elif (token.lower_ in ALWAYS_CLAUSE_BREAK and k > 0) or (
            token.lower_ == "but" and nxt != "not" and k > 0 and tokens[k - 1].text != ","
        ):
            breaks.append(token.i)
    breaks = [*sorted(set(breaks)), sentence.end]
    clauses = []
    for start, end in itertools.pairwise(breaks):
        if start >= end:
            continue
        members = [m for m in mentions if start <= m.start < end]
        opener = doc[start].lower_
        clauses.append(
            _Clause(
                start,
                end,
                opener,
                members,
                _contrast_evs(doc, start, members),
                _individually_negated(doc, start, members),
            )
        )
    return clauses


def _contrast_evs(doc: Doc, clause_start: int, mentions: list[SpanMention]) -> set[int]:
    found = set()
    occupied = {i for m in mentions for i in range(m.start, m.end)}
    for m in mentions:
        if m.kind != "ev_type":
            continue
        for opener in CONTRAST_OPENERS:
            # the opener may stand up to two modifiers before the EV ("unlike other EVs")
            for gap in range(0, 3):
                end = m.start - gap
                begin = end - len(opener)
                if begin < clause_start:
                    continue
                modifiers = doc[end : m.start]
                if any(t.i in occupied or not t.is_alpha for t in modifiers):
                    continue
                if tuple(t.lower_ for t in doc[begin:end]) == opener:
                    found.add(m.start)
    return found


def _individually_negated(doc: Doc, clause_start: int, mentions: list[SpanMention]) -> set[int]:
    """Mentions negated on their own: 'but not exosomes', 'neither X nor Y', 'no CD63'."""
    found = set()
    for m in mentions:
        k = m.start - 1
        while k >= clause_start and doc[k].lower_ in DETERMINERS:
            k -= 1
        if k >= clause_start and doc[k].lower_ in {"not", "nor", "neither", "no"}:
            found.add(m.start)
    return found


def _sentence_findings(
    doc: Doc, sentence: Span, sentence_index: int, mentions: list[SpanMention], pmid: str
) -> Iterable[Finding]:
    clauses = _split_clauses(doc, sentence, mentions)
    previous: _Clause | None = None
    for clause in clauses:
        evs = [m for m in clause.mentions if m.kind == "ev_type"]
        entities = [m for m in clause.mentions if m.kind != "ev_type"]
        carried_ev: SpanMention | None = None
        if previous is not None and clause.opener in _subject_carrying():
            if not [e for e in evs if e.start not in clause.contrast_evs]:
                prior = [
                    m
                    for m in previous.mentions
                    if m.kind == "ev_type" and m.start not in previous.contrast_evs
                ]
                if prior:
                    carried_ev = prior[-1]
            if clause.opener in {"which", "that", "who", "whose"} and not entities:
                prior_entities = [m for m in previous.mentions if m.kind != "ev_type"]
                if prior_entities:
                    entities = [prior_entities[-1]]
        for entity in entities:
            group = _choose_evs(doc, clause, entity, evs, carried_ev)
            if not group:
                continue
            anchor = group[0]
            decided = _classify(doc, clause, entity, anchor)
            if decided is None:
                continue
            category, predicate = decided
            speculative = _speculative(doc, clause, sentence)
            for ev in group:
                negated = _negated(doc, clause, entity, ev, category)
                yield Finding(
                    pmid=pmid,
                    ev_type=ev.entity_id,
                    category=category,
                    entity=entity.name,
                    entity_id=entity.entity_id,
                    predicate=predicate,
                    negated=negated,
                    speculative=speculative,
                    evidence=sentence.text.strip(),
                    sentence_index=sentence_index,
                    start_char=entity.start_char,
                    end_char=entity.end_char,
                    unlisted=entity.unlisted,
                    size_min_nm=entity.size_min_nm,
                    size_max_nm=entity.size_max_nm,
                )
        previous = clause


def _subject_carrying() -> frozenset[str]:
    from minemig.lexicon import SUBJECT_CARRYING_STARTS

    return SUBJECT_CARRYING_STARTS


def _tokens_between(doc: Doc, a: SpanMention, b: SpanMention) -> Span:
    first, second = (a, b) if a.start <= b.start else (b, a)
    return doc[first.end : second.start]


def _is_compound(doc: Doc, entity: SpanMention, ev: SpanMention) -> bool:
    """'TSPAN4-positive migrasomes', 'neutrophil-derived migrasomes', 'migrasome-mediated X'."""
    if entity.end <= ev.start:
        between = doc[entity.end : ev.start]
    elif ev.end <= entity.start:
        between = doc[ev.end : entity.start]
    else:
        return False
    return len(between) <= 3 and all(t.lower_ in COMPOUND_LINKS for t in between)


def _choose_evs(
    doc: Doc,
    clause: _Clause,
    entity: SpanMention,
    evs: list[SpanMention],
    carried_ev: SpanMention | None,
) -> list[SpanMention]:
    """The EV mention(s) this entity's claim is about, with coordinated EVs ('X and Y')."""
    candidates = [
        e
        for e in evs
        if e.start not in clause.contrast_evs and e.start not in clause.negated_mentions
    ]
    compound = [e for e in candidates if _is_compound(doc, entity, e)]
    if compound:
        chosen = compound[0]
    elif candidates:
        limit = SIZE_MAX_DISTANCE if entity.kind == "size" else MAX_DISTANCE
        scored = [(len(_tokens_between(doc, entity, e)), e) for e in candidates]
        scored = [(d, e) for d, e in scored if d <= limit]
        if not scored:
            return []
        chosen = min(scored, key=lambda pair: (pair[0], pair[1].start < entity.start))[1]
        # Where an EV lies either side, prefer the one a cue word links to the entity.
    elif carried_ev is not None:
        if entity.start - clause.start > MAX_DISTANCE:
            return []
        return [carried_ev]
    else:
        return []
    group = [chosen]
    for other in candidates:
        if other is chosen or other.entity_id == chosen.entity_id:
            continue
        between = _tokens_between(doc, chosen, other)
        if len(between) <= 3 and all(
            t.lower_ in {"and", "or", ",", "as", "well", "both"} for t in between
        ):
            group.append(other)
    # 'X was enriched in migrasomes but not exosomes': the negated EV gets the claim too.
    for other in evs:
        if other.start in clause.negated_mentions and other not in group:
            group.append(other)
    return group


def _ev_is_formation(doc: Doc, clause: _Clause, ev: SpanMention) -> bool:
    """'migrasome formation', 'formation of migrasomes', 'cells formed fewer migrasomes'."""
    after = [t.lower_ for t in doc[ev.end : min(ev.end + 2, clause.end)]]
    if after and (
        after[0] in FORMATION_NOUNS
        or after[:2] == ["-", ""]
        or (len(after) > 1 and after[0] == "-" and after[1] in FORMATION_NOUNS)
    ):
        return True
    before = [t.lower_ for t in doc[max(clause.start, ev.start - 4) : ev.start]]
    if "of" in before:
        index = len(before) - 1 - before[::-1].index("of")
        if any(w in FORMATION_NOUNS for w in before[:index]):
            return True
    return any(_stem_in(w, FORMATION_VERBS_OF_EV) for w in before[-3:])


def _region(doc: Doc, clause: _Clause, entity: SpanMention, ev: SpanMention) -> list[str]:
    """Lower-cased words between the two mentions, plus a short margin on either side."""
    first, second = (entity, ev) if entity.start <= ev.start else (ev, entity)
    start = max(clause.start, first.start - 3)
    end = min(clause.end, second.end + 3)
    return [
        t.lower_
        for t in doc[start:end]
        if not (first.start <= t.i < first.end) and not (second.start <= t.i < second.end)
    ]


def _first_cue(words: Iterable[str], stems: Sequence[str]) -> str:
    for word in words:
        if _stem_in(word, stems):
            return word
    return ""


def _classify(
    doc: Doc, clause: _Clause, entity: SpanMention, ev: SpanMention
) -> tuple[str, str] | None:
    """(category, predicate) for the claim tying ``entity`` to ``ev``, or None."""
    kind = entity.kind
    words = _region(doc, clause, entity, ev)
    clause_words = [t.lower_ for t in doc[clause.start : clause.end]]
    compound = _is_compound(doc, entity, ev)
    attached = [t.lower_ for t in doc[entity.end : min(entity.end + 2, clause.end)]]
    formation = _ev_is_formation(doc, clause, ev)

    if kind == "size":
        trailing = [t.lower_ for t in doc[entity.end : min(entity.end + 2, clause.end)]]
        if any(
            w
            in {
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
            }
            for w in trailing
        ):
            return None
        return "size", "has_size"
    if kind in {"organ", "cell_line"}:
        return None
    if formation and kind in {"gene", "cargo", "biogenesis", "probe"}:
        cue = _first_cue(clause_words, EFFECT_STEMS)
        return ("biogenesis", f"regulates_formation:{cue}") if cue else None
    if kind == "gene":
        if attached and attached[0] in {"mrna", "mrnas", "transcript", "transcripts"}:
            return "cargo", "carries_rna"
        if compound and ev.start > entity.start:
            link = [t.lower_ for t in doc[entity.end : ev.start]]
            if any(_stem_in(w, CARGO_STEMS) for w in link if w not in {"-", "enriched", "rich"}):
                return "cargo", "carries"
            return "marker", "marked_by"
        cue = _first_cue(words, MARKER_STEMS[:-4])  # 'present', 'bind', 'express', 'on' are weak
        cargo_cue = _first_cue(words, CARGO_STEMS[:18])
        if cargo_cue and (not cue or words.index(cargo_cue) < words.index(cue)):
            return "cargo", f"carries:{cargo_cue}"
        if cue:
            return "marker", f"marked_by:{cue}"
        weak = _first_cue(words, ("present", "detect", "found", "on", "express", "bind", "bound"))
        return ("marker", f"marked_by:{weak}") if weak else None
    if kind == "probe":
        cue = _first_cue(words, (*MARKER_STEMS, *METHOD_STEMS))
        return ("marker", f"labelled_by:{cue or 'compound'}") if (cue or compound) else None
    if kind == "cargo":
        cue = _first_cue(words, (*CARGO_STEMS, *MARKER_STEMS[:-1]))
        if compound or cue:
            return "cargo", f"carries:{cue or 'compound'}"
        return None
    if kind == "biogenesis":
        cue = _first_cue(words, (*EFFECT_STEMS, *PRODUCER_STEMS, "at", "tip", "tips", "site"))
        return ("biogenesis", f"forms_via:{cue}") if cue else None
    if kind == "function":
        if compound and entity.start > ev.start:
            return "function", "mediates"
        cue = _first_cue(words, FUNCTION_STEMS)
        return ("function", f"performs:{cue}") if cue else None
    if kind == "cell_type":
        if _first_cue(words, RECIPIENT_STEMS) and not (compound and entity.start < ev.start):
            return None
        if compound and entity.start < ev.start:
            return "cell_type", "produced_by"
        cue = _first_cue(words, PRODUCER_STEMS)
        if not cue and entity.end == ev.start:
            cue = "compound"  # 'neutrophil migrasomes'
        return ("cell_type", f"produced_by:{cue}") if cue else None
    if kind == "disease":
        return "disease", "implicated_in"
    if kind == "method":
        cue = _first_cue(words, METHOD_STEMS)
        return ("method", f"studied_by:{cue}") if cue else None
    return None


def _negation_words(doc: Doc, clause: _Clause) -> list[Token]:
    found = []
    skip = {i for m in clause.mentions for i in range(m.start, m.end)}
    for token in doc[clause.start : clause.end]:
        word = token.lower_
        if token.i in skip or word not in NEGATION_WORDS:
            continue
        nxt = doc[token.i + 1].lower_ if token.i + 1 < len(doc) else ""
        if nxt in NOT_A_NEGATION_AFTER.get(word, frozenset()):
            continue
        if word in {"not", "nor", "neither", "no"} and _negates_next_mention(doc, clause, token):
            continue  # scoped to one mention: handled per mention
        found.append(token)
    return found


def _negates_next_mention(doc: Doc, clause: _Clause, token: Token) -> bool:
    k = token.i + 1
    while k < clause.end and doc[k].lower_ in DETERMINERS:
        k += 1
    return any(m.start == k for m in clause.mentions)


def _negated(
    doc: Doc, clause: _Clause, entity: SpanMention, ev: SpanMention, category: str
) -> bool:
    if entity.start in clause.negated_mentions or ev.start in clause.negated_mentions:
        return True
    cues = _negation_words(doc, clause)
    if not cues:
        return False
    first = min(entity.start, ev.start)
    last = max(entity.end, ev.end)
    if category in {"biogenesis", "function"}:
        # 'loss of X abolished migrasome formation' / 'X-deficient cells failed to form
        # migrasomes' assert that X is needed; only a denial of the effect itself negates.
        for cue in cues:
            window = [t.lower_ for t in doc[cue.i : min(cue.i + 4, clause.end)]]
            if cue.lower_ in {
                "independent",
                "independently",
                "dispensable",
                "unaffected",
                "unchanged",
                "unaltered",
            }:
                return True
            if cue.lower_ in {
                "not",
                "n't",
                "no",
                "never",
                "neither",
                "nor",
                "failed",
                "fail",
                "fails",
            } and any(_stem_in(w, RELATION_NEGATION_TARGETS) for w in window[1:]):
                return True
        return False
    for cue in cues:
        if cue.lower_ in PERTURBATION_WORDS and cue.i < entity.start <= cue.i + 3:
            return True  # 'migrasomes lacking X', 'without X'
        if first - 4 <= cue.i < last:
            return True
    return False


def _speculative(doc: Doc, clause: _Clause, sentence: Span) -> bool:
    for token in doc[clause.start : clause.end]:
        word = token.lower_
        if word in HEDGE_EXCLUDED_FORMS:
            continue
        stem = _stem_in(word, HEDGE_STEMS)
        if not stem:
            continue
        if (
            stem == "potential"
            and token.i > 0
            and doc[token.i - 1].lower_ in {"membrane", "action", "zeta", "redox"}
        ):
            continue
        if stem == "if" and token.i > 0 and doc[token.i - 1].lower_ in {"even", "as"}:
            continue
        return True
    # A hedge that governs the whole sentence ('These data suggest that ..., and ...').
    head = [t.lower_ for t in doc[sentence.start : clause.start]]
    return any(_stem_in(w, ("suggest", "hypothes", "propos", "speculat")) for w in head) and (
        "that" in head or "whether" in head
    )


def with_pmid(findings: Iterable[Finding], pmid: str) -> list[Finding]:
    return [replace(f, pmid=pmid) for f in findings]

"""Compile a vocabulary release into lookup tables the matcher reads without further work.

Every surface form is tokenized once here by minemig's own tokenizer and keyed with
:mod:`minemig.vocab.normalise`, then filed in one of two tables:

* ``names``: approved names, alias and previous names, ontology labels and EXACT
  synonyms, matched case-insensitively (with plurals of cell-type and disease names);
* ``symbols``: approved, alias and previous gene symbols and the abbreviation-like
  synonyms of the ontologies ("ALS", "VSMC"), matched with their case.

Each key maps to ``[flags, entity, ...]``: ``flags`` holds the rank of the form (0 for an
approved symbol, approved name or ontology label; 1 for the rest) and its guard, the reason
it may only be taken with supporting context (0: taken on sight). A key claimed by several
entities at its best rank keeps them all, for the abstract to decide between.
``name_spans`` / ``symbol_spans`` give, per first token, the most tokens a form starting
with it has, and ``name_pairs`` / ``symbol_pairs`` the keys of the first two tokens of every
longer form: together they bound the matcher's look-ahead ("a" begins a twenty-token gene
name, but "a" followed by "role" begins none).

Guards (see :data:`GUARDS`), decided from the data:

* SHORT: symbols of one or two characters, or three letters without a digit ("CAT");
* ENGLISH: English words (:data:`~minemig.vocab.words.ENGLISH_WORDS`), aliases written in
  lower case, names made only of function words;
* STOP: methods, units, cell lines, vesicle and other common abbreviations ("ER", "MS2");
* ALIAS: alias or previous symbols of four letters or fewer without a digit, in mixed case,
  or starting with a digit ("5-HT");
* ABBREVIATION: the ontologies' abbreviation-like synonyms ("ALS", "VSMC");
* FAMILY: an alias that is the stem of three or more approved symbols ("Rho": RHOA, RHOB,
  ...), an alias or previous name that begins another gene's name ("neutral
  sphingomyelinase" of SMPD2, before SMPD3's "neutral sphingomyelinase II"), or a plain
  word before a generic head ("Golgi protein").

Approved symbols with a digit (length ≥ 3), approved all-capital symbols of four letters or
more and alias symbols with a digit or of five capitals or more, outside those lists, are
taken on sight, as are names. A part of a hyphenated alias that is another gene's alias
makes that alias ambiguous ("FIP3": IKBKG's alias, and the end of RAB11FIP3's
"Rab11-FIP3"). Dropped outright: forms under two characters or without a letter, HGNC alias
or previous names that name a disease or a process ("Alzheimer disease"), ontology roots and,
for GO and DOID, the root's children ("growth", "disease of anatomical entity").
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

from spacy.lang.en.stop_words import STOP_WORDS

from minemig.vocab.normalise import HYPHENS, KEY_VERSION, name_token, symbol_token
from minemig.vocab.sources import Source, Term
from minemig.vocab.words import ENGLISH_WORDS, NOT_GENE_NAME_HEADS, STOP_FORMS

# Bump when the rules below change what a release compiles to.
RULES_VERSION = 1
FORMAT = 2  # of the compiled file

DIRECT = 0
SHORT = 1
ENGLISH = 2
STOP = 3
ALIAS = 4
ABBREVIATION = 5
FAMILY = 6
GUARDS = {
    DIRECT: "taken on sight",
    SHORT: "one or two characters, or three letters without a digit",
    ENGLISH: "an English word",
    STOP: "a method, unit, cell line, vesicle or other common abbreviation",
    ALIAS: "a short alias or previous symbol without a digit",
    ABBREVIATION: "an abbreviation in an ontology",
    FAMILY: "a gene family name",
}
RANK_SHIFT = 3  # flags = guard | rank << RANK_SHIFT
GUARD_MASK = (1 << RANK_SHIFT) - 1
FAMILY_MIN_MEMBERS = 3

_SYMBOL_LIKE = re.compile(r"^\S+$")
_HYPHEN_SPLIT = re.compile(r"[\-‐‑]")
_P_NUMBER = re.compile(r"^p\d{2,3}[a-z]?$")  # p53, p21, p38: protein masses as names


def compiler_fingerprint() -> str:
    """What compiled keys depend on besides the release: tokenizer, keys, rules, word lists."""
    import scispacy
    import spacy

    from minemig.nlp.tokenizer import EXTRA_INFIXES, EXTRA_SUFFIXES

    material = [
        KEY_VERSION,
        RULES_VERSION,
        spacy.__version__,
        getattr(scispacy, "__version__", ""),
        list(EXTRA_INFIXES),
        list(EXTRA_SUFFIXES),
        sorted(ENGLISH_WORDS),
        sorted(STOP_FORMS),
        sorted(NOT_GENE_NAME_HEADS),
    ]
    return hashlib.sha256(json.dumps(material).encode()).hexdigest()[:16]


@lru_cache(maxsize=1)
def _tokenizer() -> Any:
    import warnings

    import spacy

    from minemig.nlp.tokenizer import minemig_tokenizer

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # scispaCy's regexes, harmless
        return minemig_tokenizer(spacy.blank("en"))


def tokenize(texts: Sequence[str]) -> list[list[str]]:
    """Token texts of each form, without whitespace tokens, by minemig's tokenizer."""
    return [
        [t.text for t in doc if not t.is_space] for doc in _tokenizer().pipe(texts, batch_size=2000)
    ]


def _core(tokens: Iterable[str]) -> list[str]:
    return [t for t in tokens if t not in HYPHENS]


def name_key(tokens: Sequence[str]) -> str:
    return "".join(name_token(t) for t in _core(tokens))


def symbol_key(tokens: Sequence[str]) -> str:
    return "".join(symbol_token(t) for t in _core(tokens))


def plural(word: str) -> str | None:
    """The regular English plural of a name's last word, or None when it has none."""
    if len(word) < 3 or not word.isalpha() or word.endswith(("s", "x", "z")):
        return None
    if word.endswith(("ch", "sh")):
        return word + "es"
    if word.endswith("y") and word[-2] not in "aeiou":
        return word[:-1] + "ies"
    return word + "s"


def symbol_guard(
    form: str, *, kind: str, approved: bool, families: frozenset[str] = frozenset()
) -> int | None:
    """The guard of a symbol-like form, or None when it is never taken. ``families``: the
    stems of several approved symbols ('RHO' of RHOA, RHOB, ...)."""
    core = "".join(ch for ch in form if ch not in HYPHENS)
    if len(core) < 2 or not any(ch.isalpha() for ch in core):
        return None
    lower = core.lower()
    if form.lower() in STOP_FORMS or lower in STOP_FORMS:
        return STOP
    if lower in ENGLISH_WORDS:
        return ENGLISH
    if kind != "gene":
        return ABBREVIATION
    if not approved and core.isalpha() and core.upper() in families:
        return FAMILY  # 'Rho', 'AKT', 'SMAD'
    has_digit = any(ch.isdigit() for ch in core)
    if len(core) <= 2 or (len(core) == 3 and not has_digit):
        return SHORT
    if core.islower():
        return DIRECT if has_digit and _P_NUMBER.match(core) else ENGLISH
    if not has_digit:
        if approved:
            return DIRECT if core.isupper() else ALIAS
        return DIRECT if core.isupper() and len(core) >= 5 else ALIAS
    if core[0].isdigit() and not approved:
        return ALIAS  # '5-HT' is serotonin, '3G11' a clone
    return DIRECT


def name_guard(
    tokens: Sequence[str], *, kind: str, rank: int, families: frozenset[str] = frozenset()
) -> int | None:
    """The guard of a name (keyed case-insensitively), or None when it is never taken.
    ``families``: keys of names that begin longer names of other genes."""
    words = [name_token(t) for t in _core(tokens)]
    key = "".join(words)
    if len(key) < 3 or not any(ch.isalpha() for ch in key):
        return None
    if len(words) == 1 and (words[0] in ENGLISH_WORDS or words[0] in STOP_FORMS):
        return ENGLISH
    if all(w in STOP_WORDS or not w.isalnum() for w in words):
        return ENGLISH  # "too few"
    if kind == "gene" and rank > 0:
        if key in families:
            return FAMILY  # 'tensin', 'neutral sphingomyelinase'
        if len(words) <= 2 and words[-1] in GENERIC_HEADS and _plain(words):
            return FAMILY  # 'Golgi protein', 'coat-protein'
    return DIRECT


# Last words of a gene's alias name that, after one plain word, describe a class of genes.
GENERIC_HEADS = frozenset(
    {
        "protein", "proteins", "glycoprotein", "gene", "antigen", "enzyme", "transcript",
        "homolog", "homologue", "isoform", "subunit", "peptide", "molecule", "receptor",
    }
)  # fmt: skip


def _plain(words: Sequence[str]) -> bool:
    """No digit, Greek letter or one-letter word: nothing that singles out one gene."""
    return not any(len(w) == 1 or any(c.isdigit() for c in w) or w in _GREEK_WORDS for w in words)


_GREEK_WORDS = frozenset({"alpha", "beta", "gamma", "delta", "epsilon", "kappa", "zeta"})


def _symbol_like(text: str) -> bool:
    """'ALS', 'VSMC', 'p53', 'CD4+': a short form to be matched with its case."""
    if not _SYMBOL_LIKE.match(text) or len(text) > 12:
        return False
    upper = sum(ch.isupper() for ch in text)
    return (
        upper >= 2
        or (upper == 1 and not text[0].isupper())
        or (any(ch.isdigit() for ch in text) and len(text) <= 8)
    )


def _disease_or_process_name(text: str) -> bool:
    words = re.findall(r"[a-z]+", text.lower())
    return bool(words) and words[-1] in NOT_GENE_NAME_HEADS


def _gene_forms(terms: Sequence[Term]) -> tuple[list[list[str]], list[tuple[str, str, int, int]]]:
    """Entities and raw forms (text, table, rank, entity) of HGNC genes."""
    entities = [[t.symbol, t.symbol, t.id] for t in terms]
    forms: list[tuple[str, str, int, int]] = []
    for index, term in enumerate(terms):
        forms.append((term.symbol, "symbols", 0, index))
        forms.extend((s, "symbols", 1, index) for s in (*term.aliases, *term.previous))
        if term.name:
            forms.append((term.name, "names", 0, index))
        for name in (*term.alias_names, *term.previous_names):
            if _disease_or_process_name(name):
                continue
            table = "symbols" if _symbol_like(name) else "names"
            forms.append((name, table, 1, index))
    # 'p53' is also written 'P53', 'C9orf72' also 'C9ORF72'.
    extra = [
        (text.upper(), table, rank, index)
        for text, table, rank, index in forms
        if table == "symbols" and text != text.upper() and any(c.isdigit() for c in text)
    ]
    return entities, forms + extra


def _ontology_forms(
    terms: Sequence[Term],
) -> tuple[list[list[str]], list[tuple[str, str, int, int]]]:
    entities = [[t.id, t.name, ""] for t in terms]
    forms: list[tuple[str, str, int, int]] = []
    for index, term in enumerate(terms):
        forms.append((term.name, "names", 0, index))
        for synonym in term.synonyms:
            forms.append((synonym, "symbols" if _symbol_like(synonym) else "names", 1, index))
    return entities, forms


def compile_source(source: Source, *, origin: str, installed: str) -> dict[str, Any]:
    """The compiled vocabulary as a JSON-ready dict (see the module docstring)."""
    kind = source.kind
    if kind == "gene":
        entities, raw = _gene_forms(source.terms)
    else:
        entities, raw = _ontology_forms(source.terms)
    texts = sorted({text for text, *_ in raw})
    tokens_of = dict(zip(texts, tokenize(texts), strict=True))

    symbol_families: frozenset[str] = frozenset()
    name_families: frozenset[str] = frozenset()
    if kind == "gene":
        symbol_families = _symbol_families(source.terms)
        name_families = _name_families(raw, tokens_of)

    tables: dict[str, dict[str, list[tuple[int, int, int]]]] = {"names": {}, "symbols": {}}
    spans: dict[str, dict[str, int]] = {"names": {}, "symbols": {}}
    pairs: dict[str, set[str]] = {"names": set(), "symbols": set()}
    with_plurals = source.name in {"cl", "doid"}

    def add(table: str, tokens: list[str], rank: int, guard: int, entity: int) -> None:
        core = _core(tokens)
        if not core:
            return
        keyed = name_key if table == "names" else symbol_key
        key, first = keyed(core), keyed(core[:1])
        tables[table].setdefault(key, []).append((rank, guard, entity))
        if len(core) > spans[table].get(first, 0):
            spans[table][first] = len(core)
        if len(core) > 1:
            pairs[table].add(keyed(core[:2]))

    for text, table, rank, entity in raw:
        tokens = tokens_of[text]
        if table == "symbols":
            approved = kind == "gene" and rank == 0
            guard = symbol_guard(text, kind=kind, approved=approved, families=symbol_families)
        else:
            guard = name_guard(tokens, kind=kind, rank=rank, families=name_families)
        if guard is None:
            continue
        add(table, tokens, rank, guard, entity)
        if not with_plurals:
            continue
        if table == "names":
            plural_word = plural(tokens[-1].lower()) if tokens[-1].islower() else None
            if plural_word:
                add(table, [*tokens[:-1], plural_word], rank, guard, entity)
        elif text[-1].isalnum() and not text.endswith("s"):
            add(table, [*tokens[:-1], tokens[-1] + "s"], rank, guard, entity)

    if kind == "gene":
        _hyphen_parts_compete(raw, tables["symbols"])
    compiled: dict[str, Any] = {}
    for table, entries in tables.items():
        compiled[table] = {key: _resolve(found) for key, found in entries.items()}
    return {
        "format": FORMAT,
        "name": source.name,
        "kind": kind,
        "title": source.title,
        "version": source.version,
        "sha256": source.sha256,
        "size": source.size,
        "source": origin,
        "installed": installed,
        "terms": len(source.terms),
        "forms": len(compiled["names"]) + len(compiled["symbols"]),
        "compiler": compiler_fingerprint(),
        "entities": entities,
        "names": compiled["names"],
        "symbols": compiled["symbols"],
        "name_spans": spans["names"],
        "symbol_spans": spans["symbols"],
        "name_pairs": sorted(pairs["names"]),
        "symbol_pairs": sorted(pairs["symbols"]),
    }


def _symbol_families(terms: Sequence[Term]) -> frozenset[str]:
    """Stems that three or more approved symbols extend by one or two characters."""
    members: dict[str, set[str]] = {}
    for term in terms:
        symbol = term.symbol.upper()
        for cut in (1, 2):
            if len(symbol) - cut >= 2 and symbol[-cut:].isalnum():
                members.setdefault(symbol[:-cut], set()).add(symbol)
    return frozenset(stem for stem, found in members.items() if len(found) >= FAMILY_MIN_MEMBERS)


def _name_families(
    raw: Sequence[tuple[str, str, int, int]], tokens_of: dict[str, list[str]]
) -> frozenset[str]:
    """Keys of gene names that begin a longer name of another gene: 'tensin' (tensin 1,
    tensin 2), 'neutral sphingomyelinase' (neutral sphingomyelinase II)."""
    owners: dict[str, set[int]] = {}
    for text, table, _, entity in raw:
        if table != "names":
            continue
        words = [name_token(t) for t in _core(tokens_of[text])]
        for cut in range(1, len(words)):
            owners.setdefault("".join(words[:cut]), set()).add(entity)
    own: dict[str, set[int]] = {}
    for text, table, _, entity in raw:
        if table == "names":
            own.setdefault(name_key(tokens_of[text]), set()).add(entity)
    return frozenset(key for key, entities in own.items() if owners.get(key, set()) - entities)


def _hyphen_parts_compete(
    raw: Sequence[tuple[str, str, int, int]], symbols: dict[str, list[tuple[int, int, int]]]
) -> None:
    """'FIP3' is IKBKG's alias, but also the end of RAB11FIP3's alias 'Rab11-FIP3', and
    'YAP' is YY1AP1's alias but also YAP1's 'YAP-1': a part of a hyphenated symbol that is
    another gene's symbol makes that symbol ambiguous, for the abstract to decide."""
    for text, table, rank, entity in raw:
        if table != "symbols" or rank == 0 or not any(h in text for h in HYPHENS):
            continue  # approved ones are 'CFTR-AS1', 'IL6-AS1': no other reading of CFTR
        for part in _HYPHEN_SPLIT.split(text):
            if len(part) < 3 or not any(ch.isalpha() for ch in part):
                continue
            found = symbols.get(symbol_key([part]))
            if found and min(r for r, _, _ in found) > 0 and all(e != entity for *_, e in found):
                found.append((1, ALIAS, entity))


def _resolve(found: list[tuple[int, int, int]]) -> list[int]:
    """[flags, entity...] from the forms that share a key: the best rank wins, and among
    its forms each entity keeps its most permissive guard."""
    best = min(rank for rank, _, _ in found)
    guards: dict[int, int] = {}
    for rank, guard, entity in found:
        if rank == best:
            guards[entity] = min(guard, guards.get(entity, guard))
    guard = max(guards.values()) if len(guards) > 1 else next(iter(guards.values()))
    return [guard | best << RANK_SHIFT, *sorted(guards)]

"""Keys under which surface forms are compiled and looked up, the same on both sides.

A form is tokenized by minemig's own tokenizer at install time and an abstract by the same
tokenizer at reading time; both sides then build the key from token texts with the
functions here. Attached hyphens are dropped and the tokens joined without separators, so
"tetraspanin-4", "tetraspanin 4" and "tetraspanin4" share a key, as do "IL-6" and "IL6".
Names are case-folded, with Greek letters spelt out and British spellings made American;
symbols keep their case, with Greek letters as the Latin capitals HGNC uses ("IL-1β" is
IL1B, "TNF-α" is TNFA).
"""

from __future__ import annotations

import re
from functools import lru_cache

# Bump when a change here or in the tokenizer changes keys: installed vocabularies are
# recompiled from their kept sources on the next load.
KEY_VERSION = 1

HYPHENS = frozenset({"-", "‐", "‑"})

_GREEK_NAMES = {
    "α": "alpha",
    "β": "beta",
    "γ": "gamma",
    "ɣ": "gamma",
    "δ": "delta",
    "ε": "epsilon",
    "ζ": "zeta",
    "η": "eta",
    "θ": "theta",
    "ι": "iota",
    "κ": "kappa",
    "λ": "lambda",
    "μ": "mu",
    "µ": "mu",
    "ν": "nu",
    "ξ": "xi",
    "π": "pi",
    "ρ": "rho",
    "σ": "sigma",
    "τ": "tau",
    "υ": "upsilon",
    "φ": "phi",
    "χ": "chi",
    "ψ": "psi",
    "ω": "omega",
}
_GREEK_CAPITALS = {
    "α": "A",
    "β": "B",
    "γ": "G",
    "ɣ": "G",
    "δ": "D",
    "ε": "E",
    "ζ": "Z",
    "η": "H",
    "θ": "Q",
    "ι": "I",
    "κ": "K",
    "λ": "L",
    "μ": "M",
    "ν": "N",
    "ξ": "X",
    "π": "P",
    "ρ": "R",
    "σ": "S",
    "τ": "T",
    "ω": "W",
}
_GREEK = re.compile("[" + "".join(_GREEK_NAMES) + "]")
_QUOTES = str.maketrans({"’": "'", "‘": "'", "′": "'"})
_BRITISH = (
    (re.compile(r"(?<=[a-z]{3})our$"), "or"),  # tumour, behaviour; not four, hour
    (re.compile(r"ae"), "e"),  # haematopoietic, leukaemia, anaemia
    (re.compile(r"oe"), "e"),  # oesophageal, oedema, diarrhoea
    (re.compile(r"(?<=[a-z]{3})is(ation|ed|ing|es|e)$"), r"iz\1"),  # polarisation
    (re.compile(r"(?<=[a-z]{3})([bt])re$"), r"\1er"),  # fibre, centre
    (re.compile(r"sulph"), "sulf"),
)


@lru_cache(maxsize=1 << 16)
def name_token(text: str) -> str:
    """One token of a name as it is keyed: case-folded, Greek spelt out, American spelling."""
    token = text.lower().translate(_QUOTES)
    if not token.isascii():
        token = _GREEK.sub(lambda m: _GREEK_NAMES[m.group(0)], token)
    if len(token) > 3 and token.isalpha():
        for pattern, replacement in _BRITISH:
            token = pattern.sub(replacement, token)
    return token


@lru_cache(maxsize=1 << 16)
def symbol_token(text: str) -> str:
    """One token of a symbol as it is keyed: case kept, Greek letters as Latin capitals."""
    if text.isascii():
        return text
    return "".join(_GREEK_CAPITALS.get(ch, ch) for ch in text.translate(_QUOTES))


def is_mouse_case(key: str) -> bool:
    """'Tspan4', 'Sgms2', 'Pten': the way mouse and rat genes are written."""
    return len(key) > 1 and key[0].isupper() and any(c.islower() for c in key[1:])

"""scispaCy's tokenizer, with hyphens and signs split where gazetteer terms hide inside words.

scispaCy keeps "TSPAN4-positive", "Tspan4-GFP" and "α5β1-integrin" as one token,
which hides the gene symbol from a token-level phrase matcher. Splitting at
hyphens between letters and digits applies to the gazetteer's own patterns too
(they are tokenized by the same tokenizer), so "TSPAN-4" still matches "TSPAN-4".
"""

from __future__ import annotations

import re
from collections.abc import Callable

from scispacy.custom_tokenizer import combined_rule_tokenizer
from spacy.language import Language
from spacy.tokenizer import Tokenizer
from spacy.util import registry

EXTRA_INFIXES = (
    r"(?<=[^\W_])[-‐‑](?=[^\W_])",  # hyphen between letters/digits: TSPAN4-positive
    r"(?<=[0-9])[–—±~](?=[0-9])",  # ranges and errors: 0.5–3, 500±20
    r"(?<=[^\W_])/(?=[^\W\d_])",  # lists: Tspan4/Itga5
)
EXTRA_SUFFIXES = (r"(?<=[^\W\d_])\+",)  # WGA+ like CD63+


def minemig_tokenizer(nlp: Language) -> Tokenizer:
    if not hasattr(nlp, "tokenizer"):
        # Built from a config, the Language has no tokenizer yet; scispaCy's builder
        # borrows the default one's URL matcher.
        nlp.tokenizer = registry.tokenizers.get("spacy.Tokenizer.v1")()(nlp)
    tokenizer = combined_rule_tokenizer(nlp)
    infix = tokenizer.infix_finditer.__self__.pattern
    suffix = tokenizer.suffix_search.__self__.pattern
    tokenizer.infix_finditer = re.compile("|".join((*EXTRA_INFIXES, infix))).finditer
    tokenizer.suffix_search = re.compile(
        "|".join((*(s + "$" for s in EXTRA_SUFFIXES), suffix))
    ).search
    return tokenizer


@registry.tokenizers("minemig.scispacy_tokenizer.v1")
def create_minemig_tokenizer() -> Callable[[Language], Tokenizer]:
    return minemig_tokenizer

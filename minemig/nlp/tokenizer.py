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
from spacy.tokens import Doc
from spacy.util import registry

from minemig.mentions import TEXT_KEY

EXTRA_INFIXES = (
    r"(?<=[^\W_])[-‐‑](?=[^\W_])",  # hyphen between letters/digits: TSPAN4-positive
    r"(?<=[0-9])[–—±~](?=[0-9])",  # ranges and errors: 0.5–3, 500±20
    r"(?<=[^\W_])/(?=[^\W\d_])",  # lists: Tspan4/Itga5
)
EXTRA_SUFFIXES = (r"(?<=[^\W\d_])\+",)  # WGA+ like CD63+


class TextKeepingTokenizer(Tokenizer):
    """A spaCy Tokenizer that keeps the text it was given in the Doc's ``user_data``."""

    def __call__(self, text: str) -> Doc:
        doc = super().__call__(text)
        doc.user_data[TEXT_KEY] = text
        return doc


def minemig_tokenizer(nlp: Language) -> Tokenizer:
    if not hasattr(nlp, "tokenizer"):
        # Built from a config, the Language has no tokenizer yet; scispaCy's builder
        # borrows the default one's URL matcher.
        nlp.tokenizer = registry.tokenizers.get("spacy.Tokenizer.v1")()(nlp)
    scispacy = combined_rule_tokenizer(nlp)
    infix = scispacy.infix_finditer.__self__.pattern
    suffix = scispacy.suffix_search.__self__.pattern
    return TextKeepingTokenizer(
        nlp.vocab,
        scispacy.rules,
        prefix_search=scispacy.prefix_search,
        suffix_search=re.compile("|".join((*(s + "$" for s in EXTRA_SUFFIXES), suffix))).search,
        infix_finditer=re.compile("|".join((*EXTRA_INFIXES, infix))).finditer,
        token_match=scispacy.token_match,
        url_match=scispacy.url_match,
    )


@registry.tokenizers("minemig.scispacy_tokenizer.v1")
def create_minemig_tokenizer() -> Callable[[Language], Tokenizer]:
    return minemig_tokenizer

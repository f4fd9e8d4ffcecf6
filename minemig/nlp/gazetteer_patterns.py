"""The registered reader that turns gazetteer files into EntityRuler patterns."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

from spacy.util import registry

from minemig.gazetteer import Gazetteer, load_gazetteer


@lru_cache(maxsize=8)
def cached_gazetteer(gazetteers: tuple[str, ...], abbreviations: tuple[str, ...]) -> Gazetteer:
    """One load per process for the ruler and the mention component alike."""
    return load_gazetteer([Path(p) for p in gazetteers], [Path(p) for p in abbreviations])


@registry.misc("minemig.gazetteer_patterns.v1")
def gazetteer_patterns_v1(
    gazetteers: Sequence[str], abbreviations: Sequence[str] = ()
) -> list[dict[str, str]]:
    return cached_gazetteer(tuple(gazetteers), tuple(abbreviations)).patterns()

"""Public vocabularies: HGNC genes, GO biological processes, Cell Ontology, Disease Ontology.

``minemig vocab fetch|install|list`` put releases into ``<data dir>/vocab/``, compiled
once at install time (:mod:`minemig.vocab.compile`); readers load them with
:func:`load_installed_vocabularies` and match them with
:func:`minemig.nlp.vocabulary.vocabulary_mentions`.
"""

from __future__ import annotations

from minemig.vocab.sources import VOCABULARIES
from minemig.vocab.store import (
    CompiledVocabulary,
    Vocabularies,
    VocabularyInfo,
    install_file,
    installed_vocabularies,
    load_installed_vocabularies,
    vocab_dir,
)

__all__ = [
    "VOCABULARIES",
    "CompiledVocabulary",
    "Vocabularies",
    "VocabularyInfo",
    "install_file",
    "installed_vocabularies",
    "load_installed_vocabularies",
    "vocab_dir",
]

"""The statistical-model path: a tiny NER model trained here stands in for a scispaCy model.

scispaCy's model weights cannot be installed on every machine, so the test trains
a small spaCy NER model in a temporary folder, loads it the way an installed model
is loaded, and checks that its entities reach the findings the rules alone miss.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import spacy
from spacy.training import Example
from spacy.util import fix_random_seed

from minemig.models import AbstractSection, Article
from minemig.nlp import build_reader

GAZETTEER = (
    "id\tname\tcategory\tsynonyms\tsource\n"
    "EV:migrasome\tmigrasome\tev_type\tmigrasomes\ttest\n"
    "TSPAN4\tTSPAN4\tgene\tTspan4\ttest\n"
)
# 'perlecan-like protein' names no symbol the patterns could see; only NER finds it.
TRAIN = [
    ("Migrasomes were enriched in perlecan-like protein in L929 cells.", "perlecan-like protein"),
    ("We detected perlecan-like protein on the migrasome membrane.", "perlecan-like protein"),
    ("The scaffold glypicanin was packaged into vesicles.", "glypicanin"),
    ("Loss of glypicanin reduced cell spreading.", "glypicanin"),
    ("Fibulinase accumulated at focal adhesions.", "Fibulinase"),
    ("Cells lacking fibulinase migrated slowly.", "fibulinase"),
]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    nlp = spacy.blank("en")
    ner = nlp.add_pipe("ner")
    ner.add_label("GENE_OR_GENE_PRODUCT")
    examples = []
    for text, entity in TRAIN:
        start = text.index(entity)
        doc = nlp.make_doc(text)
        examples.append(
            Example.from_dict(
                doc, {"entities": [(start, start + len(entity), "GENE_OR_GENE_PRODUCT")]}
            )
        )
    random.seed(7)
    fix_random_seed(7)  # the test's model is the same whatever ran before it
    optimizer = nlp.initialize(lambda: examples)
    for _ in range(60):
        random.shuffle(examples)
        nlp.update(examples, sgd=optimizer, drop=0.1)
    path = tmp_path_factory.mktemp("model") / "tiny_ner"
    nlp.to_disk(path)
    return path


@pytest.fixture()
def gazetteer(tmp_path: Path) -> Path:
    path = tmp_path / "test.tsv"
    path.write_text(GAZETTEER, encoding="utf-8")
    return path


def article(text: str) -> Article:
    return Article(pmid="1", title="", abstract_sections=(AbstractSection(text),))


def test_model_entities_become_unlisted_findings(tiny_model: Path, gazetteer: Path) -> None:
    text = "Migrasomes were enriched in perlecan-like protein in L929 cells."
    with_model = build_reader([gazetteer], model=str(tiny_model))
    rules_only = build_reader([gazetteer], model="none")
    assert with_model.model == str(tiny_model) and "model.none" in rules_only.version

    (_, found) = next(with_model.read([article(text)]))
    (_, without) = next(rules_only.read([article(text)]))
    assert [(f.ev_type, f.category, f.entity_id, f.unlisted) for f in found] == [
        ("EV:migrasome", "marker", "UNLISTED:perlecan-like protein", True)
    ]
    assert without == []


def test_gazetteer_still_wins_over_the_model(tiny_model: Path, gazetteer: Path) -> None:
    reader = build_reader([gazetteer], model=str(tiny_model))
    (_, found) = next(reader.read([article("Tspan4-positive migrasomes were counted.")]))
    assert [(f.entity_id, f.category, f.unlisted) for f in found] == [("TSPAN4", "marker", False)]
    assert "sentencizer" in reader.nlp.pipe_names and "ner" in reader.nlp.pipe_names

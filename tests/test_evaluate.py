"""The evaluation command: scoring rules and a run on a small dev set written here."""

from __future__ import annotations

from pathlib import Path

import pytest

from minemig.baseline import load_baseline
from minemig.evaluate import main, normalise_id, score, unlisted_gold_ids
from minemig.models import Finding
from minemig.topic import load_topic

WATCHED = ("EV:migrasome",)


def finding(
    entity_id: str,
    category: str = "marker",
    ev_type: str = "EV:migrasome",
    negated: bool = False,
    speculative: bool = False,
    pmid: str = "1",
) -> Finding:
    return Finding(
        pmid=pmid,
        ev_type=ev_type,
        category=category,
        entity=entity_id,
        entity_id=entity_id,
        predicate="",
        negated=negated,
        speculative=speculative,
        evidence="",
        sentence_index=0,
        start_char=0,
        end_char=0,
    )


@pytest.fixture(scope="module")
def baseline():  # type: ignore[no-untyped-def]
    return load_baseline(load_topic("migrasome").baseline_path)


def test_scores_count_keys_and_new_findings(baseline) -> None:  # type: ignore[no-untyped-def]
    gold = [
        finding("TSPAN4"),
        finding("PLD1"),
        finding("SNX27", "biogenesis"),
        finding("CD63", ev_type="EV:exosome"),
    ]
    predicted = [
        finding("TSPAN4"),
        finding("PLD1"),
        finding("KIF5B", "cargo"),
        finding("CD63", ev_type="EV:migrasome"),
    ]
    report = score(gold, predicted, baseline, WATCHED)
    assert (report.all.true_positive, report.all.false_positive, report.all.false_negative) == (
        2,
        2,
        2,
    )
    # TSPAN4 restates the baseline; PLD1 is new and found; SNX27 missed; KIF5B and the
    # migrasome CD63 are new but wrong.
    assert (report.new.true_positive, report.new.false_positive, report.new.false_negative) == (
        1,
        2,
        1,
    )
    assert report.new.precision == pytest.approx(1 / 3)
    assert report.wrong_ev_type == ["('1', 'EV:migrasome', 'marker', 'CD63') (gold: EV:exosome)"]


def test_flags_are_judged_on_matched_keys(baseline) -> None:  # type: ignore[no-untyped-def]
    gold = [finding("PLD1", negated=True), finding("SNX27", speculative=True)]
    predicted = [finding("PLD1"), finding("SNX27", speculative=True)]
    report = score(gold, predicted, baseline, WATCHED)
    assert report.matched == 2
    assert (report.negated_correct, report.speculative_correct) == (1, 2)
    # a negated or speculative gold finding is never a new one
    assert report.new.false_positive == 1 and report.new.true_positive == 0


def test_unlisted_names_compare_loosely() -> None:
    assert normalise_id("UNLISTED:Perlecan-like proteins") == normalise_id(
        "UNLISTED:perlecan like protein"
    )
    assert normalise_id("pld1") == "PLD1"
    assert normalise_id("GO:0001525") == "GO:0001525"


def test_a_gold_project_id_no_gazetteer_lists_is_matched_by_name(baseline) -> None:  # type: ignore[no-untyped-def]
    listed = {"MINEMIG:cholesterol"}
    gold = unlisted_gold_ids(
        [
            finding("MINEMIG:high_content_imaging", "method"),
            finding("MINEMIG:cholesterol", "cargo"),
        ],
        listed,
    )
    predicted = [
        finding("UNLISTED:high-content imaging", "method"),
        finding("MINEMIG:cholesterol", "cargo"),
    ]
    report = score(gold, predicted, baseline, WATCHED)
    assert (report.all.true_positive, report.all.false_positive) == (2, 0)
    # a listed project id is never compared by name
    report = score(gold, [finding("UNLISTED:cholesterol", "cargo")], baseline, WATCHED)
    assert report.all.true_positive == 0


def test_the_command_prints_the_figures(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "91000001.toml").write_text(
        '''pmid = "91000001"
title = "PLD1 marks migrasomes"
theme = "discovery"
abstract = """
RESULTS: Migrasomes were strongly enriched in PLD1, and exosomes carried CD63.
"""

[[finding]]
ev_type = "EV:migrasome"
category = "marker"
entity = "PLD1"
entity_id = "PLD1"
negated = false
speculative = false
evidence = "Migrasomes were strongly enriched in PLD1, and exosomes carried CD63."

[[finding]]
ev_type = "EV:exosome"
category = "cargo"
entity = "CD63"
entity_id = "CD63"
negated = false
speculative = false
evidence = "Migrasomes were strongly enriched in PLD1, and exosomes carried CD63."
''',
        encoding="utf-8",
    )
    assert main([str(tmp_path), "--details"]) == 0
    out = capsys.readouterr().out
    assert "dev set: 1 abstracts" in out
    lines = {
        line.split()[0] + " " + line.split()[1]: line
        for line in out.splitlines()
        if line.startswith(("all findings", "new findings"))
    }
    assert lines["all findings"].split()[2:5] == ["1.000", "1.000", "1.000"]
    assert lines["new findings"].split()[2:5] == ["1.000", "1.000", "1.000"]


def test_a_broken_dev_set_is_one_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "bad.toml").write_text('pmid = "1"\n', encoding="utf-8")
    assert main([str(tmp_path)]) == 1
    assert "not a dev-set abstract" in capsys.readouterr().err

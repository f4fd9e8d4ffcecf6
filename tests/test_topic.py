"""Topic files, gazetteers and baseline claims: every shipped file loads; bad ones say why."""

from __future__ import annotations

from pathlib import Path

import pytest

from minemig.baseline import load_baseline
from minemig.errors import ConfigError
from minemig.gazetteer import load_gazetteer
from minemig.models import Finding
from minemig.topic import BUNDLED_PIPELINES, load_topic


@pytest.mark.parametrize("path", sorted(BUNDLED_PIPELINES.glob("*.toml")), ids=lambda p: p.stem)
def test_every_shipped_topic_and_its_files_load(path: Path) -> None:
    topic = load_topic(str(path))
    gazetteer = load_gazetteer(topic.gazetteer_files, topic.abbreviation_files)
    baseline = load_baseline(topic.baseline_path)
    assert set(topic.watched_ev_types) <= set(gazetteer.concepts)
    # every claim names a concept the reader can find (sizes are ranges, not concepts)
    unknown = {
        c.entity_id
        for c in baseline.claims
        if c.entity_id != "SIZE" and c.entity_id not in gazetteer.concepts
    }
    assert unknown == set()
    assert all(row["source"] for row in (c.__dict__ for c in gazetteer.concepts.values()))


def test_the_migrasome_baseline_holds_the_review(tmp_path: Path) -> None:
    baseline = load_baseline(load_topic("migrasome").baseline_path)
    markers = {
        c.entity_id for c in baseline.claims if c.category == "marker" and c.kind == "established"
    }
    assert {"TSPAN4", "ITGA5", "CPQ", "NDST1", "PIGK", "EOGT", "MINEMIG:wga"} <= markers
    size = baseline.size_range("EV:migrasome")
    assert size is not None and (size.min_nm, size.max_nm) == (500, 3000)
    hypotheses = {c.entity_id for c in baseline.claims if c.kind == "hypothesis"}
    assert {"GO:0001525", "MINEMIG:metastasis", "MINEMIG:immune_escape"} <= hypotheses


def _finding(**changes: object) -> Finding:
    base = {
        "pmid": "1",
        "ev_type": "EV:migrasome",
        "category": "marker",
        "entity": "TSPAN4",
        "entity_id": "TSPAN4",
        "predicate": "",
        "negated": False,
        "speculative": False,
        "evidence": "",
        "sentence_index": 0,
        "start_char": 0,
        "end_char": 0,
    }
    base.update(changes)
    return Finding(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "status"),
    [
        ({}, "baseline"),
        ({"negated": True}, "contradicts"),
        ({"entity_id": "PLD1"}, "new"),
        ({"ev_type": "EV:exosome"}, "context"),
        (
            {
                "category": "size",
                "entity_id": "SIZE:800-2000nm",
                "size_min_nm": 800.0,
                "size_max_nm": 2000.0,
            },
            "baseline",
        ),
        (
            {
                "category": "size",
                "entity_id": "SIZE:0-3000nm",
                "size_min_nm": 0.0,
                "size_max_nm": 3000.0,
            },
            "baseline",
        ),
        (
            {
                "category": "size",
                "entity_id": "SIZE:5000-8000nm",
                "size_min_nm": 5000.0,
                "size_max_nm": 8000.0,
            },
            "contradicts",
        ),
        ({"category": "function", "entity_id": "GO:0001525"}, "new"),  # confirms a hypothesis
    ],
)
def test_status_against_the_baseline(changes: dict, status: str) -> None:
    topic = load_topic("migrasome")
    baseline = load_baseline(topic.baseline_path)
    assert baseline.status(_finding(**changes), topic.watched_ev_types) == status


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[topic]\nname = "x"\nwatched = []\n', "unknown key 'watched' in [topic]"),
        ('[topics]\nname = "x"\n', "unknown section [topics]"),
        (
            '[topic]\nname = "x"\nwatched_ev_types = []\n[query]\nterm = "a"\n'
            "[gazetteers]\nfiles = []\n",
            "missing key 'claims' in [baseline]",
        ),
        ('[topic\nname = "x"', "not valid TOML"),
        ("[topic]\nname = 3\n", "[topic] name has the wrong type"),
        (
            '[topic]\nname = "../x"\nwatched_ev_types = []\n[query]\nterm = "a"\n'
            '[gazetteers]\nfiles = []\n[baseline]\nclaims = "b.tsv"\n',
            "may hold only letters",
        ),
    ],
)
def test_a_malformed_topic_names_the_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "broken.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load_topic(str(path))
    assert str(path) in str(error.value) and message in str(error.value)


def test_an_unknown_topic_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"unknown pipeline 'nosuch'.*migrasome"):
        load_topic("nosuch")


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ("id\tname\tcategory\tsynonyms\tsource\nX:1\tx\tcolour\t\ts\n", "unknown category"),
        (
            "id\tname\tcategory\tsynonyms\tsource\nX:1\tx\tgene\ta|b\ts\nX:2\ty\tgene\tB\ts\n",
            "surface form 'B' of X:2 is already a form of X:1",
        ),
        ("id\tname\tcategory\nX:1\tx\tgene\n", "the header must be"),
        ("id\tname\tcategory\tsynonyms\tsource\nX:1\tx\tgene\n", "expected 5 tab-separated"),
    ],
)
def test_a_malformed_gazetteer_names_the_line(tmp_path: Path, rows: str, message: str) -> None:
    path = tmp_path / "bad.tsv"
    path.write_text(rows, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_gazetteer([path])

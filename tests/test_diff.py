"""diff.compare: what a period's papers add to the baseline and to earlier digests."""

from __future__ import annotations

from minemig.baseline import Baseline, Claim
from minemig.diff import (
    CONFIRMS_HYPOTHESIS,
    DENIES_CLAIM,
    NO_BASELINE_ROW,
    OUTSIDE_RANGE,
    Delta,
    Paper,
    Reported,
    compare,
)
from minemig.models import Finding

WATCHED = ("EV:migrasome", "EV:retraction_fiber")
BASELINE = Baseline(
    (
        Claim("EV:migrasome", "marker", "TSPAN4", "TSPAN4", "established", "review Table 1"),
        Claim("EV:migrasome", "size", "SIZE", "0.5–3 µm", "established", "Table 1", 500, 3000),
        Claim("EV:migrasome", "function", "GO:0001525", "angiogenesis", "hypothesis", "Fig. 3"),
    )
)


def finding(
    pmid: str,
    entity_id: str,
    *,
    category: str = "marker",
    ev_type: str = "EV:migrasome",
    negated: bool = False,
    speculative: bool = False,
    entity: str = "",
    evidence: str = "",
    sentence_index: int = 1,
    size: tuple[float, float] | None = None,
) -> Finding:
    return Finding(
        pmid=pmid,
        ev_type=ev_type,
        category=category,
        entity=entity or entity_id,
        entity_id=entity_id,
        predicate="",
        negated=negated,
        speculative=speculative,
        evidence=evidence or f"Migrasomes and {entity or entity_id} in paper {pmid}.",
        sentence_index=sentence_index,
        start_char=0,
        end_char=1,
        size_min_nm=size[0] if size else None,
        size_max_nm=size[1] if size else None,
    )


def papers(*pmids: str) -> list[Paper]:
    return [Paper(pmid, f"Paper {pmid}", f"2024-0{i + 1}") for i, pmid in enumerate(pmids)]


def run(findings: list[Finding], period: list[Paper], **kwargs: object) -> Delta:
    reported = kwargs.pop("reported", {})
    return compare(BASELINE, findings, period, reported, WATCHED, **kwargs)  # type: ignore[arg-type]


def test_new_findings_are_grouped_by_key_with_papers_first_paper_and_all_evidence() -> None:
    delta = run(
        [
            finding("102", "PLD1", evidence="Migrasomes were enriched in PLD1."),
            finding("101", "PLD1", evidence="PLD1 marks migrasomes.", sentence_index=3),
            finding("101", "PLD1", evidence="PLD1 again.", sentence_index=5),
        ],
        papers("101", "102"),
    )
    (group,) = delta.new
    assert group.key == ("EV:migrasome", "marker", "PLD1")
    assert group.reason == NO_BASELINE_ROW
    assert group.papers == 2
    assert (group.first.pmid, group.first.pub_date) == ("101", "2024-01")
    # One sentence per paper: the first one stating the claim.
    assert [s.evidence for s in group.support] == [
        "PLD1 marks migrasomes.",
        "Migrasomes were enriched in PLD1.",
    ]


def test_statuses_sort_findings_into_their_sections() -> None:
    delta = run(
        [
            finding("101", "TSPAN4"),  # restates the baseline
            finding("101", "TSPAN4", negated=True, sentence_index=2),  # denies it
            finding("102", "CD9", negated=True),  # negative, not about the baseline
            finding("102", "VEGFA", category="cargo", speculative=True),
            finding("102", "GO:0001525", category="function", entity="angiogenesis"),
            finding("103", "SIZE:5000-8000nm", category="size", size=(5000, 8000)),
            finding("103", "SIZE:1000-2000nm", category="size", size=(1000, 2000)),
        ],
        papers("101", "102", "103"),
    )
    assert [(g.entity_id, g.reason) for g in delta.new] == [
        ("GO:0001525", CONFIRMS_HYPOTHESIS),
        ("SIZE:5000-8000nm", OUTSIDE_RANGE),
    ]
    assert [g.entity for g in delta.hypotheses] == ["angiogenesis"]
    assert delta.hypotheses[0].claim is not None and delta.hypotheses[0].claim.source == "Fig. 3"
    assert [(g.entity_id, g.reason) for g in delta.contradictions] == [
        ("TSPAN4", DENIES_CLAIM),
        ("SIZE:5000-8000nm", OUTSIDE_RANGE),
    ]
    assert {g.entity_id for g in delta.baseline} == {"TSPAN4", "SIZE:1000-2000nm"}
    assert [g.entity_id for g in delta.negative] == ["CD9"]
    assert [g.entity_id for g in delta.speculative] == ["VEGFA"]


def test_only_watched_ev_types_count() -> None:
    delta = run(
        [
            finding("101", "CD63", ev_type="EV:exosome"),
            finding("101", "CD63", ev_type="EV:exosome", negated=True),
            finding("101", "ITGB1", ev_type="EV:retraction_fiber"),
        ],
        papers("101"),
    )
    assert [g.key for g in delta.new] == [("EV:retraction_fiber", "marker", "ITGB1")]
    assert not delta.negative


def test_a_key_reported_by_an_earlier_digest_is_not_new_again() -> None:
    earlier = Reported("EV:migrasome", "marker", "PLD1", "PLD1", "2026-01-05", frozenset({"90"}))
    delta = run(
        [finding("101", "PLD1"), finding("101", "NDST2")],
        papers("101"),
        reported={earlier.key: earlier},
    )
    assert [g.entity_id for g in delta.new] == ["NDST2"]
    assert [g.entity_id for g in delta.seen_before] == ["PLD1"]
    # Both are remembered with the paper that states them, for a later retraction.
    assert delta.support_to_record() == {
        ("EV:migrasome", "marker", "NDST2"): {"101"},
        ("EV:migrasome", "marker", "PLD1"): {"101"},
    }


def test_a_reported_hypothesis_is_not_confirmed_twice() -> None:
    key = ("EV:migrasome", "function", "GO:0001525")
    earlier = Reported(*key, entity="angiogenesis", day="2026-01-05")
    delta = run(
        [finding("101", "GO:0001525", category="function")],
        papers("101"),
        reported={key: earlier},
    )
    assert not delta.new and not delta.hypotheses
    assert [g.key for g in delta.seen_before] == [key]


def test_findings_of_retracted_papers_and_retraction_notices_support_nothing() -> None:
    period = [
        Paper("101", "Retracted", "2024-01", retracted=True),
        Paper("102", "Retraction note: migrasomes and PLD1", "2024-02", retraction_notice=True),
        Paper("103", "Sound", "2024-03"),
    ]
    delta = run(
        [
            finding("101", "PLD1"),
            finding("102", "PLD1"),
            finding("101", "NDST2"),
            finding("103", "NDST2"),
            finding("101", "TSPAN4", negated=True),
        ],
        period,
    )
    # PLD1 rests on retracted papers only: not reported. NDST2 keeps its sound paper.
    assert [(g.entity_id, [s.pmid for s in g.support]) for g in delta.new] == [("NDST2", ["103"])]
    assert not delta.contradictions
    assert [r.paper.pmid for r in delta.retractions] == ["101"]
    assert delta.retractions[0].affected == ()
    assert len(delta.papers) == 3  # every paper read is listed


def test_a_retraction_of_a_paper_behind_an_earlier_finding_is_reported() -> None:
    pld1 = Reported("EV:migrasome", "marker", "PLD1", "PLD1", "2026-01-05", frozenset({"90"}))
    ndst2 = Reported(
        "EV:migrasome", "marker", "NDST2", "NDST2", "2026-01-05", frozenset({"90", "91", "92"})
    )
    delta = run(
        [finding("90", "PLD1")],
        [Paper("90", "Now retracted", "2023-01", retracted=True, revised=True)],
        reported={pld1.key: pld1, ndst2.key: ndst2},
        retracted={"92"},
    )
    (retraction,) = delta.retractions
    assert retraction.paper.pmid == "90"
    assert [(a.reported.entity, a.other_support) for a in retraction.affected] == [
        ("NDST2", 1),  # 91 still stands; 92 is retracted too
        ("PLD1", 0),
    ]
    assert not delta.new and not delta.seen_before


def test_findings_outside_the_period_are_ignored_and_order_is_deterministic() -> None:
    findings = [
        finding("103", "ZZZ1"),
        finding("101", "AAA1"),
        finding("999", "OUTSIDE"),
        finding("102", "GO:1", category="function", entity="b function"),
        finding("102", "CL:1", category="cell_type", entity="A cell"),
        finding("101", "GO:2", category="function", entity="a function"),
    ]
    one = run(findings, papers("101", "102", "103"))
    two = run(list(reversed(findings)), list(reversed(papers("101", "102", "103"))))
    assert one == two
    assert [g.entity_id for g in one.new] == ["AAA1", "ZZZ1", "GO:2", "GO:1", "CL:1"]
    assert [p.pmid for p in one.papers] == ["101", "102", "103"]


def test_the_pipeline_version_of_the_last_digest_is_kept_only_when_it_differs() -> None:
    assert run([], papers("1"), pipeline_version="v2", previous_version="v1").previous_version == (
        "v1"
    )
    assert run([], papers("1"), pipeline_version="v2", previous_version="v2").previous_version == ""
    assert run([], []).is_empty

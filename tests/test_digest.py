"""digest.render_markdown: exact markdown for small deltas."""

# The expected digests hold lines as long as the real ones.
# ruff: noqa: E501

from __future__ import annotations

from textwrap import dedent

from minemig.baseline import Baseline, Claim
from minemig.diff import Delta, Paper, Reported, compare
from minemig.digest import render_markdown
from minemig.models import Finding

BASELINE = Baseline(
    (
        Claim("EV:migrasome", "marker", "TSPAN4", "TSPAN4", "established", "review Table 1"),
        Claim("EV:migrasome", "size", "SIZE", "0.5–3 µm", "established", "Table 1", 500, 3000),
        Claim("EV:migrasome", "function", "GO:0001525", "angiogenesis", "hypothesis", "Fig. 3"),
    )
)
URL = "https://pubmed.ncbi.nlm.nih.gov"


def finding(pmid: str, category: str, entity_id: str, entity: str, evidence: str, **kw: object):
    values: dict[str, object] = {
        "pmid": pmid,
        "ev_type": "EV:migrasome",
        "category": category,
        "entity": entity,
        "entity_id": entity_id,
        "predicate": "",
        "negated": False,
        "speculative": False,
        "evidence": evidence,
        "sentence_index": 1,
        "start_char": 0,
        "end_char": 1,
    }
    values.update(kw)
    return Finding(**values)  # type: ignore[arg-type]


def small_delta() -> Delta:
    period = [
        Paper("101", "PLD1 in migrasomes.", "2024-03-05", "J Cell Sci"),
        Paper("102", "Neutrophil migrasomes.", "2024-03-20", "Blood", revised=True),
        Paper("90", "An old paper.", "2023-05", "Cell Res", retracted=True),
    ]
    sentence = "TSPAN4-positive migrasomes were enriched in PLD1 in L929 cells."
    findings = [
        finding("101", "marker", "TSPAN4", "TSPAN4", sentence),
        finding("101", "marker", "PLD1", "PLD1", sentence),
        finding("102", "marker", "PLD1", "PLD1", "PLD1 was enriched in migrasomes."),
        finding(
            "102",
            "function",
            "GO:0001525",
            "angiogenesis",
            "Neutrophil-derived migrasomes promote angiogenesis.",
        ),
        finding("102", "marker", "TSPAN4", "TSPAN4", "TSPAN4 was not found.", negated=True),
        finding("102", "cargo", "VEGFA", "VEGFA", "Migrasomes may carry VEGFA.", speculative=True),
    ]
    earlier = Reported("EV:migrasome", "marker", "CD9", "CD9", "2026-01-05", frozenset({"90"}))
    return compare(
        BASELINE,
        findings,
        period,
        {earlier.key: earlier},
        ["EV:migrasome"],
        pipeline_version="rules.v1",
    )


def test_a_small_digest_renders_exactly() -> None:
    text = render_markdown(
        small_delta(), title="Migrasome digest", day="2026-01-12", period="Since 2026-01-05."
    )
    assert text == dedent(
        f"""\
        # Migrasome digest — 2026-01-12

        Since 2026-01-05. Read with pipeline `rules.v1`.

        **3 papers read, 2 new findings, 1 contradiction.**

        By month of publication:

        ```text
        month    papers  new findings
        2023-05  #  1       0
        2024-03  ## 2    ## 2
        ```

        ## New findings

        ### marker

        - **PLD1** — marker of migrasome — no baseline row — 2 papers, the first [PMID 101]({URL}/101/) (2024-03-05)
          - [PMID 101]({URL}/101/) (2024-03-05): “TSPAN4-positive migrasomes were enriched in PLD1 in L929 cells.”
          - [PMID 102]({URL}/102/) (2024-03-20): “PLD1 was enriched in migrasomes.”

        ### function

        - **angiogenesis** — function of migrasome — confirms a hypothesis of the review — 1 paper
          - [PMID 102]({URL}/102/) (2024-03-20): “Neutrophil-derived migrasomes promote angiogenesis.”

        ## Contradictions

        - **TSPAN4** — marker of migrasome — denies a baseline claim (review Table 1) — 1 paper
          - [PMID 102]({URL}/102/) (2024-03-20): “TSPAN4 was not found.”

        ## Confirmed hypotheses

        - **angiogenesis** — function of migrasome — 1 paper; the review proposed it: Fig. 3

        ## Confirmations of baseline claims

        1 paper restates 1 claim of the review (marker 1).

        ## Speculative results

        - **VEGFA** — cargo of migrasome — 1 paper
          - [PMID 102]({URL}/102/) (2024-03-20): “Migrasomes may carry VEGFA.”

        ## Retractions

        - [PMID 90]({URL}/90/) (2023-05) An old paper. — retracted. It supported findings reported earlier:
          - **CD9** — marker of migrasome, reported 2026-01-05; no other paper supports it

        ## Papers

        - [PMID 90]({URL}/90/) (2023-05) An old paper. *Cell Res* — retracted
        - [PMID 101]({URL}/101/) (2024-03-05) PLD1 in migrasomes. *J Cell Sci*
        - [PMID 102]({URL}/102/) (2024-03-20) Neutrophil migrasomes. *Blood* — revised
        """
    )


def test_rendering_is_deterministic() -> None:
    one = render_markdown(small_delta(), title="T", day="2026-01-12")
    assert one == render_markdown(small_delta(), title="T", day="2026-01-12")


def test_text_from_records_cannot_break_the_markdown() -> None:
    title = "[click](http://evil.example) <script>x</script> # | *bold*"
    delta = compare(
        BASELINE,
        [finding("7", "marker", "PLD1", "PLD1 **x**", "See [here](http://evil.example)\n# no")],
        [Paper("7", title, "2024", "J_of_*")],
        {},
        ["EV:migrasome"],
    )
    text = render_markdown(delta, title="Digest [x]", day="2026-01-12")
    assert "# Digest \\[x\\] — 2026-01-12" in text
    assert "**PLD1 \\*\\*x\\*\\***" in text
    assert "“See \\[here\\]\\(http://evil.example\\) \\# no”" in text
    assert (
        "\\[click\\]\\(http://evil.example\\) \\<script\\>x\\</script\\> \\# \\| \\*bold\\*"
        " *J\\_of\\_\\**" in text
    )
    assert "](http://evil" not in text


def test_a_period_of_one_month_without_news_is_short() -> None:
    delta = compare(
        BASELINE,
        [finding("5", "marker", "TSPAN4", "TSPAN4", "TSPAN4 marks migrasomes.")],
        [Paper("5", "Known things.", "2024-03-01")],
        {},
        ["EV:migrasome"],
    )
    assert render_markdown(delta, title="Digest", day="2026-01-12") == dedent(
        f"""\
        # Digest — 2026-01-12

        **1 paper read, 0 new findings, 0 contradictions.**

        ## New findings

        No new findings.

        ## Confirmations of baseline claims

        1 paper restates 1 claim of the review (marker 1).

        ## Papers

        - [PMID 5]({URL}/5/) (2024-03-01) Known things.
        """
    )


def test_a_changed_pipeline_is_said_and_an_outside_range_size_is_quoted_once() -> None:
    delta = compare(
        BASELINE,
        [
            finding(
                "8",
                "size",
                "SIZE:5000-8000nm",
                "5–8 µm",
                "Migrasomes were 5–8 µm wide.",
                size_min_nm=5000.0,
                size_max_nm=8000.0,
            )
        ],
        [Paper("8", "Big ones.", "2024-03-01")],
        {},
        ["EV:migrasome"],
        pipeline_version="v2",
        previous_version="v1",
    )
    text = render_markdown(delta, title="Digest", day="2026-01-12")
    assert "it was `v1`" in text
    assert text.count("“Migrasomes were 5–8 µm wide.”") == 1
    assert (
        "- **5–8 µm** — size of migrasome — outside the baseline range (500–3000 nm) — 1 paper;"
        " quoted under New findings"
    ) in text

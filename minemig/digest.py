"""Stage 7: a :class:`~minemig.diff.Delta` as a markdown digest (render only).

The order of everything is fixed by the delta and by the rules here, so two
digests of the same store are byte-identical and consecutive ones diff cleanly.
Text that comes from records (titles, journals, evidence, entity names) passes
through :func:`~minemig.report.escape_markdown`, so no abstract can break the page.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import date

from minemig.baseline import Claim
from minemig.diff import (
    DENIES_CLAIM,
    OUTSIDE_RANGE,
    Delta,
    Group,
    Paper,
    Retraction,
    Support,
)
from minemig.models import FINDING_CATEGORIES
from minemig.report import PUBMED_URL, escape_markdown

CHART_WIDTH = 40  # longest bar of the monthly chart, in characters


def render_markdown(delta: Delta, *, title: str, day: date | str, period: str = "") -> str:
    """The digest of ``delta``; ``period`` says in words which records it covers."""
    lines = [f"# {escape_markdown(title)} — {day}", ""]
    about = [escape_markdown(period)] if period else []
    if delta.pipeline_version:
        about.append(f"Read with pipeline `{delta.pipeline_version}`.")
    if about:
        lines += [" ".join(about), ""]
    if delta.previous_version:
        lines += [
            f"> The reading pipeline changed since the last digest (it was "
            f"`{delta.previous_version}`). Findings reported before are not reported again;"
            " only this period's papers can bring new ones.",
            "",
        ]
    lines.append(
        f"**{_count(len(delta.papers), 'paper')} read, {_count(len(delta.new), 'new finding')},"
        f" {_count(len(delta.contradictions), 'contradiction')}.**"
    )
    lines += _chart(delta)
    lines += _new_findings(delta)
    lines += _contradictions(delta)
    lines += _section("Confirmed hypotheses", [_hypothesis(g) for g in delta.hypotheses])
    lines += _confirmations(delta)
    lines += _section("Negative results", [_entry(g) for g in delta.negative])
    lines += _section("Speculative results", [_entry(g) for g in delta.speculative])
    lines += _section("Retractions", [_retraction(r) for r in delta.retractions])
    lines += _section("Papers", [[_paper(p)] for p in delta.papers])
    return "\n".join(lines) + "\n"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _ev(ev_type: str) -> str:
    return ev_type.removeprefix("EV:").replace("_", " ")


def _what(group: Group) -> str:
    return f"{group.category.replace('_', ' ')} of {_ev(group.ev_type)}"


def _link(pmid: str) -> str:
    return f"[PMID {pmid}]({PUBMED_URL.format(pmid=pmid)})"


def _date(value: str) -> str:
    return value or "date unknown"


def _range(claim: Claim | None) -> str:
    if claim is None or claim.min_nm is None or claim.max_nm is None:
        return ""
    return f" ({claim.min_nm:g}–{claim.max_nm:g} nm)"


def _reason(group: Group) -> str:
    if group.reason == OUTSIDE_RANGE:
        return OUTSIDE_RANGE + _range(group.claim)
    if group.reason == DENIES_CLAIM and group.claim is not None and group.claim.source:
        return f"{DENIES_CLAIM} ({escape_markdown(group.claim.source)})"
    return group.reason


def _name(group: Group) -> str:
    unlisted = " (not in the gazetteer)" if group.unlisted else ""
    return f"**{escape_markdown(group.entity)}**{unlisted}"


def _evidence(support: Iterable[Support]) -> list[str]:
    return [
        f"  - {_link(s.pmid)} ({_date(s.pub_date)}): “{escape_markdown(s.evidence)}”"
        for s in support
    ]


def _entry(group: Group, *, quote: bool = True) -> list[str]:
    parts = [_name(group), _what(group)]
    if group.reason:
        parts.append(_reason(group))
    parts.append(_count(group.papers, "paper"))
    head = "- " + " — ".join(parts)
    return [head, *(_evidence(group.support) if quote else [])]


def _section(heading: str, entries: list[list[str]]) -> list[str]:
    if not entries:
        return []
    lines = ["", f"## {heading}", ""]
    for entry in entries:
        lines += entry
    return lines


def _new_findings(delta: Delta) -> list[str]:
    lines = ["", "## New findings", ""]
    if not delta.new:
        return [*lines, "No new findings."]
    by_category: dict[str, list[Group]] = {}
    for group in delta.new:
        by_category.setdefault(group.category, []).append(group)
    first_category = True
    for category in sorted(by_category, key=_category_rank):
        if not first_category:
            lines.append("")
        first_category = False
        lines += [f"### {category.replace('_', ' ')}", ""]
        for group in by_category[category]:
            head, *evidence = _entry(group)
            if group.papers > 1:
                head += f", the first {_link(group.first.pmid)} ({_date(group.first.pub_date)})"
            lines += [head, *evidence]
    return lines


def _category_rank(category: str) -> tuple[int, str]:
    rank = FINDING_CATEGORIES.index(category) if category in FINDING_CATEGORIES else 99
    return (rank, category)


def _contradictions(delta: Delta) -> list[str]:
    new = delta.new_keys
    entries = []
    for group in delta.contradictions:
        if group.reason == OUTSIDE_RANGE and group.key in new:
            head, *_ = _entry(group, quote=False)
            entries.append([head + "; quoted under New findings"])
        else:
            entries.append(_entry(group))
    return _section("Contradictions", entries)


def _hypothesis(group: Group) -> list[str]:
    proposed = ""
    if group.claim is not None and group.claim.source:
        proposed = f"; the review proposed it: {escape_markdown(group.claim.source)}"
    return [f"- {_name(group)} — {_what(group)} — {_count(group.papers, 'paper')}{proposed}"]


def _confirmations(delta: Delta) -> list[str]:
    lines = []
    if delta.baseline:
        papers = len({s.pmid for g in delta.baseline for s in g.support})
        per_category = Counter(g.category for g in delta.baseline)
        detail = ", ".join(
            f"{category.replace('_', ' ')} {per_category[category]}"
            for category in sorted(per_category, key=_category_rank)
        )
        verb = "restates" if papers == 1 else "restate"
        lines.append(
            f"{_count(papers, 'paper')} {verb} {_count(len(delta.baseline), 'claim')}"
            f" of the review ({detail})."
        )
    if delta.seen_before:
        papers = len({s.pmid for g in delta.seen_before for s in g.support})
        verb = "restates" if papers == 1 else "restate"
        lines.append(
            f"{_count(papers, 'paper')} {verb} {_count(len(delta.seen_before), 'finding')}"
            " reported in an earlier digest."
        )
    if not lines:
        return []
    return ["", "## Confirmations of baseline claims", "", *_paragraphs(lines)]


def _paragraphs(lines: list[str]) -> list[str]:
    out: list[str] = []
    for line in lines:
        if out:
            out.append("")
        out.append(line)
    return out


def _retraction(retraction: Retraction) -> list[str]:
    paper = retraction.paper
    head = f"- {_link(paper.pmid)} ({_date(paper.pub_date)}) {escape_markdown(paper.title)}"
    if not retraction.affected:
        return [f"{head} — retracted; its findings are not reported."]
    lines = [f"{head} — retracted. It supported findings reported earlier:"]
    for affected in retraction.affected:
        entry = affected.reported
        left = affected.other_support
        still = "no other paper supports it" if not left else f"{_count(left, 'other paper')}"
        if left:
            still += " still support it" if left > 1 else " still supports it"
        lines.append(
            f"  - **{escape_markdown(entry.entity)}** — {entry.category.replace('_', ' ')} of"
            f" {_ev(entry.ev_type)}, reported {entry.day}; {still}"
        )
    return lines


def _paper(paper: Paper) -> str:
    text = f"- {_link(paper.pmid)} ({_date(paper.pub_date)})"
    if paper.title:
        text += f" {escape_markdown(paper.title)}"
    if paper.journal:
        text += f" *{escape_markdown(paper.journal)}*"
    flags = [
        name
        for name, on in (
            ("revised", paper.revised),
            ("retracted", paper.retracted),
            ("retraction notice", paper.retraction_notice),
        )
        if on
    ]
    return text + (f" — {', '.join(flags)}" if flags else "")


def _month(pub_date: str) -> str:
    return pub_date[:7] if len(pub_date) >= 7 else (pub_date or "undated")


def _chart(delta: Delta) -> list[str]:
    """Papers and new findings per month of publication, when the papers span months."""
    papers = Counter(_month(p.pub_date) for p in delta.papers)
    if len(papers) < 2:
        return []
    new = Counter(_month(g.first.pub_date) for g in delta.new)
    months = sorted(papers, key=lambda m: (m == "undated", m))
    top = max(max(papers.values()), max(new.values(), default=0))

    def bar(n: int) -> str:
        return "#" * (max(1, round(n * CHART_WIDTH / top)) if n and top > CHART_WIDTH else n)

    label_width = max(len("month"), *(len(m) for m in months))
    count_width = len(str(top))
    bar_width = max(len(bar(n)) for n in (*papers.values(), *new.values()))
    cell_width = max(len("papers"), bar_width + 1 + count_width)

    def cell(n: int) -> str:
        return f"{bar(n):<{bar_width}} {n:>{count_width}}"

    rows = [f"{'month':<{label_width}}  {'papers':<{cell_width}}  new findings".rstrip()]
    for month in months:
        rows.append(
            f"{month:<{label_width}}  {cell(papers[month]):<{cell_width}}  {cell(new[month])}"
        )
    return ["", "By month of publication:", "", "```text", *rows, "```"]

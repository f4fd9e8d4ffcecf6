"""Stage 6b: what a period's papers add to the baseline and to earlier digests (pure).

:func:`compare` takes the baseline, the stored findings of the period's papers
(all read by one pipeline version), the papers themselves and what earlier
digests reported, and returns a :class:`Delta`. It does no I/O; rendering is
:mod:`minemig.digest`'s job.

* Only the topic's watched EV types count; claims about others are context.
* A finding key (EV type, category, entity id) that an earlier digest reported is
  never new again, whatever pipeline version reads it now: "reported" is keyed by
  the key alone, so a vocabulary change cannot pass for new literature.
* Retracted papers (and retraction notices, which restate what they retract)
  support nothing; a retracted paper that supported an earlier reported key is
  listed with what it supported.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from minemig.baseline import Baseline, Claim
from minemig.models import FINDING_CATEGORIES, Article, Finding

Key = tuple[str, str, str]

NO_BASELINE_ROW = "no baseline row"
OUTSIDE_RANGE = "outside the baseline range"
CONFIRMS_HYPOTHESIS = "confirms a hypothesis of the review"
DENIES_CLAIM = "denies a baseline claim"


@dataclass(frozen=True)
class Paper:
    """An article of the period, as the digest lists it."""

    pmid: str
    title: str = ""
    pub_date: str = ""  # ISO, as precise as the record gives it
    journal: str = ""
    retracted: bool = False
    retraction_notice: bool = False
    revised: bool = False  # an earlier version of the record was stored before

    @classmethod
    def of(cls, article: Article, *, revised: bool = False) -> Paper:
        return cls(
            pmid=article.pmid,
            title=article.title,
            pub_date=article.pub_date.iso(),
            journal=article.journal,
            retracted=article.is_retracted,
            retraction_notice=article.is_retraction_notice,
            revised=revised,
        )

    @property
    def supports_nothing(self) -> bool:
        return self.retracted or self.retraction_notice


@dataclass(frozen=True)
class Support:
    """One paper's evidence for a group: its first sentence stating the claim."""

    pmid: str
    pub_date: str
    evidence: str


@dataclass(frozen=True)
class Group:
    """Findings of one key (EV type, category, entity id) from the period's papers."""

    ev_type: str
    category: str
    entity_id: str
    entity: str
    support: tuple[Support, ...]  # one per paper, oldest publication first
    reason: str = ""  # why it is new, or why it contradicts
    claim: Claim | None = None  # the baseline claim it confirms, contradicts or bears on
    unlisted: bool = False
    size_min_nm: float | None = None
    size_max_nm: float | None = None

    @property
    def key(self) -> Key:
        return (self.ev_type, self.category, self.entity_id)

    @property
    def papers(self) -> int:
        return len(self.support)

    @property
    def first(self) -> Support:
        return self.support[0]


@dataclass(frozen=True)
class Reported:
    """A key an earlier digest reported, with the papers digests cited for it."""

    ev_type: str
    category: str
    entity_id: str
    entity: str
    day: str  # the digest's date
    pmids: frozenset[str] = frozenset()

    @property
    def key(self) -> Key:
        return (self.ev_type, self.category, self.entity_id)


@dataclass(frozen=True)
class Affected:
    """An earlier reported key that a retracted paper supported."""

    reported: Reported
    other_support: int  # papers still supporting it, retracted ones left out


@dataclass(frozen=True)
class Retraction:
    paper: Paper
    affected: tuple[Affected, ...]


@dataclass(frozen=True)
class Delta:
    """What a period adds. Every tuple is in the order the digest prints it."""

    pipeline_version: str
    papers: tuple[Paper, ...]
    new: tuple[Group, ...]
    contradictions: tuple[Group, ...]
    baseline: tuple[Group, ...]  # restated established claims (the digest counts them)
    seen_before: tuple[Group, ...]  # keys an earlier digest reported, stated again
    negative: tuple[Group, ...]
    speculative: tuple[Group, ...]
    retractions: tuple[Retraction, ...]
    previous_version: str = ""  # the pipeline version of the last digest, when it differs

    @property
    def hypotheses(self) -> tuple[Group, ...]:
        return tuple(g for g in self.new if g.reason == CONFIRMS_HYPOTHESIS)

    @property
    def new_keys(self) -> set[Key]:
        return {g.key for g in self.new}

    def support_to_record(self) -> dict[Key, set[str]]:
        """Papers to remember per reported key: the new ones and those restating earlier ones."""
        cited: dict[Key, set[str]] = defaultdict(set)
        for group in (*self.new, *self.seen_before):
            cited[group.key].update(s.pmid for s in group.support)
        return dict(cited)

    @property
    def is_empty(self) -> bool:
        return not self.papers


def compare(
    baseline: Baseline,
    findings: Iterable[Finding],
    papers: Iterable[Paper],
    reported: Mapping[Key, Reported],
    watched: Iterable[str],
    *,
    pipeline_version: str = "",
    previous_version: str = "",
    retracted: Iterable[str] = (),
) -> Delta:
    """The period's news. ``findings`` outside ``papers`` are ignored; ``retracted`` names
    every retracted PMID known (not only the period's), to count what still supports an
    earlier key."""
    watched = tuple(watched)
    by_pmid = {p.pmid: p for p in papers}
    dates = {pmid: paper.pub_date for pmid, paper in by_pmid.items()}
    buckets: dict[str, dict[tuple[Key, str], list[Finding]]] = {
        name: defaultdict(list)
        for name in ("new", "contradictions", "baseline", "seen", "negative", "speculative")
    }
    for finding in findings:
        paper = by_pmid.get(finding.pmid)
        if paper is None or paper.supports_nothing or finding.ev_type not in watched:
            continue
        status = baseline.status(finding, watched)
        key = finding.key
        if finding.speculative:
            buckets["speculative"][key, ""].append(finding)
        elif finding.negated:
            if status == "contradicts":
                buckets["contradictions"][key, DENIES_CLAIM].append(finding)
            else:
                buckets["negative"][key, ""].append(finding)
        elif status == "baseline":
            buckets["baseline"][key, ""].append(finding)
        else:
            outside = status == "contradicts"  # an asserted size beyond the baseline's range
            if outside:
                buckets["contradictions"][key, OUTSIDE_RANGE].append(finding)
            if key in reported:
                buckets["seen"][key, ""].append(finding)
            elif outside:
                buckets["new"][key, OUTSIDE_RANGE].append(finding)
            elif baseline.hypothesis(key) is not None:
                buckets["new"][key, CONFIRMS_HYPOTHESIS].append(finding)
            else:
                buckets["new"][key, NO_BASELINE_ROW].append(finding)

    def groups(name: str) -> tuple[Group, ...]:
        made = [
            _group(members, reason, _claim_for(baseline, key, reason), dates)
            for (key, reason), members in buckets[name].items()
        ]
        return tuple(sorted(made, key=_group_order))

    retracted_all = set(retracted) | {p.pmid for p in by_pmid.values() if p.retracted}
    retractions = []
    for paper in sorted(by_pmid.values(), key=_paper_order):
        if not paper.retracted:
            continue
        affected = [
            Affected(entry, len(entry.pmids - retracted_all))
            for entry in reported.values()
            if paper.pmid in entry.pmids
        ]
        affected.sort(key=lambda a: _key_order(a.reported.key, a.reported.entity))
        retractions.append(Retraction(paper, tuple(affected)))

    return Delta(
        pipeline_version=pipeline_version,
        papers=tuple(sorted(by_pmid.values(), key=_paper_order)),
        new=groups("new"),
        contradictions=groups("contradictions"),
        baseline=groups("baseline"),
        seen_before=groups("seen"),
        negative=groups("negative"),
        speculative=groups("speculative"),
        retractions=tuple(retractions),
        previous_version=previous_version if previous_version != pipeline_version else "",
    )


def _claim_for(baseline: Baseline, key: Key, reason: str) -> Claim | None:
    if reason == CONFIRMS_HYPOTHESIS:
        return baseline.hypothesis(key)
    if key[1] == "size":
        return baseline.size_range(key[0])
    return baseline.established(key)


def _group(
    members: list[Finding], reason: str, claim: Claim | None, dates: Mapping[str, str]
) -> Group:
    per_paper: dict[str, Finding] = {}
    for finding in sorted(members, key=lambda f: (f.sentence_index, f.start_char)):
        per_paper.setdefault(finding.pmid, finding)
    first = min(members, key=lambda f: (f.sentence_index, f.start_char, f.pmid))
    support = sorted(
        (Support(f.pmid, dates.get(f.pmid, ""), f.evidence) for f in per_paper.values()),
        key=lambda s: (s.pub_date == "", s.pub_date, _pmid_order(s.pmid)),
    )
    return Group(
        ev_type=first.ev_type,
        category=first.category,
        entity_id=first.entity_id,
        entity=_display_entity(members),
        support=tuple(support),
        reason=reason,
        claim=claim,
        unlisted=all(f.unlisted for f in members),
        size_min_nm=first.size_min_nm,
        size_max_nm=first.size_max_nm,
    )


def _display_entity(members: list[Finding]) -> str:
    # The most frequent surface name, ties broken alphabetically, so the order of papers
    # never changes what a digest calls an entity.
    counts: dict[str, int] = defaultdict(int)
    for finding in members:
        counts[finding.entity] += 1
    return min(counts, key=lambda name: (-counts[name], name.casefold(), name))


def _pmid_order(pmid: str) -> tuple[int, str]:
    return (int(pmid), pmid) if pmid.isdigit() else (0, pmid)


def _paper_order(paper: Paper) -> tuple[bool, str, tuple[int, str]]:
    return (paper.pub_date == "", paper.pub_date, _pmid_order(paper.pmid))


def _key_order(key: Key, entity: str) -> tuple[int, str, str, str]:
    ev_type, category, entity_id = key
    rank = FINDING_CATEGORIES.index(category) if category in FINDING_CATEGORIES else 99
    return (rank, ev_type, entity.casefold(), entity_id)


def _group_order(group: Group) -> tuple[tuple[int, str, str, str], str]:
    return (_key_order(group.key, group.entity), group.reason)

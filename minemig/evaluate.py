"""Measure extraction against gold findings: ``python -m minemig.evaluate [DEVSET_DIR]``.

A dev set is a folder of TOML files, one abstract each, with its gold findings
(see ``devset/GUIDELINES.md``). Findings are compared as (pmid, ev_type,
category, entity_id); a key's state is *asserted* when any sentence states it
plainly, else *negated* or *speculative*. Reported: precision, recall and F1 for
all findings and for new ones (status ``new``, asserted), the accuracy of the
negated and speculative flags on matched keys, and findings given to the wrong
EV type.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import defaultdict
from collections.abc import Container, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from minemig.baseline import Baseline, load_baseline
from minemig.errors import ConfigError, MinemigError
from minemig.models import UNLISTED_PREFIX, AbstractSection, Article, Finding
from minemig.topic import load_topic

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

Key = tuple[str, str, str, str]  # pmid, ev_type, category, entity_id
PROJECT_PREFIX = "MINEMIG:"


@dataclass(frozen=True)
class GoldAbstract:
    article: Article
    theme: str
    findings: tuple[Finding, ...]


@dataclass
class Scores:
    true_positive: int = 0
    false_positive: int = 0
    false_negative: int = 0

    @property
    def precision(self) -> float:
        found = self.true_positive + self.false_positive
        return self.true_positive / found if found else 1.0

    @property
    def recall(self) -> float:
        wanted = self.true_positive + self.false_negative
        return self.true_positive / wanted if wanted else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass
class Report:
    all: Scores = field(default_factory=Scores)
    new: Scores = field(default_factory=Scores)
    negated_correct: int = 0
    speculative_correct: int = 0
    matched: int = 0
    wrong_ev_type: list[str] = field(default_factory=list)
    errors: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))


def _sections(text: str) -> tuple[AbstractSection, ...]:
    sections = []
    for paragraph in (p.strip() for p in text.strip().splitlines()):
        if not paragraph:
            continue
        match = re.match(r"^([A-Z][A-Z /&-]{2,40}):\s+(.*)$", paragraph)
        if match:
            sections.append(AbstractSection(match.group(2), match.group(1)))
        else:
            sections.append(AbstractSection(paragraph))
    return tuple(sections)


def load_devset(folder: Path) -> list[GoldAbstract]:
    files = sorted(folder.glob("*.toml"))
    if not files:
        raise ConfigError(f"no dev-set abstracts (*.toml) in {folder}")
    abstracts = []
    for path in files:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
            pmid = str(data["pmid"])
            article = Article(
                pmid=pmid,
                title=data["title"].strip(),
                abstract_sections=_sections(data["abstract"]),
            )
            gold = tuple(
                Finding(
                    pmid=pmid,
                    ev_type=f["ev_type"],
                    category=f["category"],
                    entity=f["entity"],
                    entity_id=f["entity_id"],
                    predicate="",
                    negated=bool(f["negated"]),
                    speculative=bool(f["speculative"]),
                    evidence=f.get("evidence", ""),
                    sentence_index=-1,
                    start_char=-1,
                    end_char=-1,
                )
                for f in data.get("finding", [])
            )
        except (KeyError, TypeError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"{path}: not a dev-set abstract ({exc})") from None
        abstracts.append(GoldAbstract(article, data.get("theme", ""), gold))
    return abstracts


def normalise_id(entity_id: str) -> str:
    """Unlisted names compare loosely (case, hyphens, spaces, a plural s)."""
    if entity_id.upper().startswith("UNLISTED:"):
        name = re.sub(r"[^a-z0-9]", "", entity_id.split(":", 1)[1].lower())
        return "UNLISTED:" + name.removesuffix("s")
    if ":" not in entity_id:
        return entity_id.upper()
    return entity_id


def unlisted_gold_ids(gold: Iterable[Finding], listed: Container[str]) -> list[Finding]:
    """Gold names a concept that no gazetteer row lists with a project id of its plain
    name (``MINEMIG:high_content_imaging``); minemig reports such a concept as unlisted
    (``UNLISTED:high-content imaging``). Both then compare by name."""
    return [
        replace(f, entity_id=UNLISTED_PREFIX + f.entity_id.split(":", 1)[1])
        if f.entity_id.startswith(PROJECT_PREFIX) and f.entity_id not in listed
        else f
        for f in gold
    ]


def _states(findings: Iterable[Finding]) -> dict[Key, set[str]]:
    states: dict[Key, set[str]] = defaultdict(set)
    for f in findings:
        key = (f.pmid, f.ev_type, f.category, normalise_id(f.entity_id))
        if f.negated:
            states[key].add("negated")
        elif f.speculative:
            states[key].add("speculative")
        else:
            states[key].add("asserted")
    return states


def _is_new(key: Key, state: set[str], baseline: Baseline, watched: Sequence[str]) -> bool:
    if "asserted" not in state:
        return False
    probe = Finding(
        pmid=key[0],
        ev_type=key[1],
        category=key[2],
        entity="",
        entity_id=key[3],
        predicate="",
        negated=False,
        speculative=False,
        evidence="",
        sentence_index=0,
        start_char=0,
        end_char=0,
    )
    if key[2] == "size":
        return False  # sizes are judged by range, counted under all findings
    return baseline.status(probe, watched) == "new"


def score(
    gold: Iterable[Finding],
    predicted: Iterable[Finding],
    baseline: Baseline,
    watched: Sequence[str],
) -> Report:
    report = Report()
    gold_states, predicted_states = _states(gold), _states(predicted)
    for key in sorted(set(gold_states) | set(predicted_states)):
        in_gold, in_predicted = key in gold_states, key in predicted_states
        if in_gold and in_predicted:
            report.all.true_positive += 1
            report.matched += 1
            g, p = gold_states[key], predicted_states[key]
            report.negated_correct += ("negated" in g) == ("negated" in p)
            report.speculative_correct += ("speculative" in g) == ("speculative" in p)
            if g != p:
                report.errors[key[0]].append(f"flags {key[1:]} gold={sorted(g)} got={sorted(p)}")
        elif in_predicted:
            report.all.false_positive += 1
            report.errors[key[0]].append(f"FP {key[1:]} {sorted(predicted_states[key])}")
            same_entity = [k for k in gold_states if k[0] == key[0] and k[2:] == key[2:]]
            if same_entity:
                report.wrong_ev_type.append(f"{key} (gold: {', '.join(k[1] for k in same_entity)})")
        else:
            report.all.false_negative += 1
            report.errors[key[0]].append(f"FN {key[1:]} {sorted(gold_states[key])}")
        gold_new = in_gold and _is_new(key, gold_states[key], baseline, watched)
        predicted_new = in_predicted and _is_new(key, predicted_states[key], baseline, watched)
        if gold_new and predicted_new:
            report.new.true_positive += 1
        elif predicted_new:
            report.new.false_positive += 1
        elif gold_new:
            report.new.false_negative += 1
    return report


def format_report(report: Report, abstracts: int, label: str = "") -> str:
    matched = report.matched or 1
    lines = [
        f"dev set: {abstracts} abstracts{(' — ' + label) if label else ''}",
        f"{'':14}{'precision':>10}{'recall':>10}{'F1':>8}{'TP':>6}{'FP':>6}{'FN':>6}",
    ]
    for name, s in (("all findings", report.all), ("new findings", report.new)):
        lines.append(
            f"{name:14}{s.precision:>10.3f}{s.recall:>10.3f}{s.f1:>8.3f}"
            f"{s.true_positive:>6}{s.false_positive:>6}{s.false_negative:>6}"
        )
    for name, correct in (
        ("negated accuracy", report.negated_correct),
        ("speculative accuracy", report.speculative_correct),
    ):
        lines.append(f"{name:21}{correct / matched:.3f} on {report.matched} matched")
    lines.append(f"wrong EV type        {len(report.wrong_ev_type)}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m minemig.evaluate",
        description="Precision and recall of minemig's findings on a dev set of gold abstracts.",
    )
    parser.add_argument("devset", nargs="?", default="devset/abstracts", type=Path)
    parser.add_argument("--pipeline", default="migrasome", help="topic name or .toml path")
    parser.add_argument("--model", default="none", help="scispaCy model: none, auto or a name")
    parser.add_argument("--details", action="store_true", help="list every error per abstract")
    parser.add_argument(
        "--vocab",
        metavar="DATA_DIR",
        type=Path,
        default=None,
        help="also read with the public vocabularies installed in this data directory",
    )
    args = parser.parse_args(argv)
    try:
        from minemig.nlp import build_reader

        topic = load_topic(args.pipeline)
        baseline = load_baseline(topic.baseline_path)
        abstracts = load_devset(args.devset)
        reader = build_reader(
            topic.gazetteer_files,
            topic.abbreviation_files,
            args.model,
            vocabulary_dir=args.vocab,
        )
        if args.vocab is not None and reader.vocabularies is None:
            raise ConfigError(f"no vocabularies are installed in {args.vocab} (minemig vocab)")
        predicted = [f for _, fs in reader.read(a.article for a in abstracts) for f in fs]
        gold = unlisted_gold_ids(
            (f for a in abstracts for f in a.findings), reader.gazetteer.concepts
        )
        report = score(gold, predicted, baseline, topic.watched_ev_types)
    except MinemigError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    print(format_report(report, len(abstracts), f"reader {reader.version}"))
    if args.details:
        for pmid in sorted(report.errors):
            print(f"\n{pmid}")
            for line in report.errors[pmid]:
                print(f"  {line}")
        for line in report.wrong_ev_type:
            print(f"wrong EV type: {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

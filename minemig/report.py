"""Write findings and articles as JSONL, CSV or a markdown report (stdout or a file).

Text from abstracts is escaped for markdown so a title cannot inject links, HTML
or table breaks into a report.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any, TextIO

from minemig.models import Finding

FINDING_FIELDS = (
    "pmid",
    "ev_type",
    "category",
    "entity",
    "entity_id",
    "status",
    "negated",
    "speculative",
    "evidence",
    "predicate",
    "unlisted",
    "sentence_index",
    "start_char",
    "end_char",
    "size_min_nm",
    "size_max_nm",
)
ARTICLE_FIELDS = (
    "pmid",
    "version",
    "title",
    "abstract",
    "journal",
    "year",
    "pub_date",
    "doi",
    "pmcid",
    "publication_types",
    "mesh",
    "language",
    "revised",
)
PUBMED_URL = "https://pubmed.ncbi.nlm.nih.gov/{pmid}/"

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+!|~])")


def escape_markdown(text: str) -> str:
    """Plain text that renders as itself: markup characters escaped, whitespace folded."""
    text = re.sub(r"\s+", " ", text).strip()
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def finding_record(finding: Finding) -> dict[str, Any]:
    # Every field is a plain value: no need for asdict's recursive copy.
    return {name: getattr(finding, name) for name in FINDING_FIELDS}


def write_jsonl(rows: Iterable[Mapping[str, Any]], out: TextIO) -> int:
    count = 0
    for row in rows:
        out.write(_JSON.encode(row) + "\n")
        count += 1
    return count


_JSON = json.JSONEncoder(ensure_ascii=False)  # json.dumps would make one per row


def write_csv(rows: Iterable[Mapping[str, Any]], fields: Iterable[str], out: TextIO) -> int:
    writer = csv.DictWriter(out, fieldnames=list(fields), extrasaction="ignore")
    writer.writeheader()
    count = 0
    for row in rows:
        writer.writerow({k: _csv_value(v) for k, v in row.items()})
        count += 1
    return count


def _csv_value(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return "; ".join(str(v) for v in value)
    return value


def findings_markdown(findings: Iterable[Finding], title: str) -> str:
    """A compact report of findings grouped by status, then EV type and category."""
    findings = list(findings)
    lines = [f"# {escape_markdown(title)}", ""]
    pmids = sorted({f.pmid for f in findings}, key=lambda p: (len(p), p))
    new = [f for f in findings if f.status == "new" and not f.negated and not f.speculative]
    lines.append(f"{len(findings)} findings from {len(pmids)} articles; {len(new)} new.")
    groups = (
        ("New findings", new),
        ("Contradictions", [f for f in findings if f.status == "contradicts"]),
        (
            "Restating the baseline",
            [f for f in findings if f.status == "baseline" and not f.negated and not f.speculative],
        ),
        (
            "Negative and speculative results",
            [f for f in findings if (f.negated or f.speculative) and f.status != "contradicts"],
        ),
        (
            "Context (EV types not watched)",
            [f for f in findings if f.status == "context" and not f.negated and not f.speculative],
        ),
    )
    for heading, members in groups:
        if not members:
            continue
        lines += ["", f"## {heading}", ""]
        for f in sorted(members, key=lambda f: (f.ev_type, f.category, f.entity_id, f.pmid)):
            flags = "".join(
                [" (negated)" if f.negated else "", " (speculative)" if f.speculative else ""]
            )
            unlisted = " (not in the gazetteer)" if f.unlisted else ""
            lines.append(
                f"- **{escape_markdown(f.entity)}** — {f.category} of {f.ev_type}{flags}{unlisted}"
                f" — [PMID {f.pmid}]({PUBMED_URL.format(pmid=f.pmid)}): "
                f"“{escape_markdown(f.evidence)}”"
            )
    return "\n".join(lines) + "\n"

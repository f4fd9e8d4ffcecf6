"""Read the public vocabularies' release files: HGNC's complete set and OBO ontologies.

* HGNC ``hgnc_complete_set.txt``: tab-separated, one approved gene per row; multi-valued
  columns are double-quoted and ``|``-separated (``"p53|LFS1"``). The release has no version
  header, so its version is the latest ``date_modified``.
* OBO 1.2 (GO basic, Cell Ontology basic, Disease Ontology): ``[Term]`` stanzas with ``id``,
  ``name``, ``synonym`` and ``is_a`` lines. Only names and EXACT synonyms are kept (RELATED,
  NARROW and BROAD synonyms name other concepts, or merely related ones); obsolete terms
  and ids outside the ontology's own prefix are dropped; for GO only biological_process.
  The version is the ``data-version`` header (its release date when it has one).

Files may be gzip-compressed (recognised by content, not by name). Each reader returns the
terms with the sha256 of the uncompressed bytes.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import re
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from minemig.errors import VocabularyError

# name → (kind of entity, id prefix, title)
VOCABULARIES = {
    "hgnc": ("gene", "HGNC:", "HGNC complete set"),
    "go": ("function", "GO:", "Gene Ontology, biological process (go-basic)"),
    "cl": ("cell_type", "CL:", "Cell Ontology (cl-basic)"),
    "doid": ("disease", "DOID:", "Human Disease Ontology"),
}
HGNC_COLUMNS = (
    "hgnc_id",
    "symbol",
    "name",
    "status",
    "alias_symbol",
    "alias_name",
    "prev_symbol",
    "prev_name",
    "date_modified",
)
# Terms too general to be a finding: the roots, and for GO and DOID their children
# ("growth", "localization"; "disease of anatomical entity", "syndrome").
ROOTS = {"go": "GO:0008150", "cl": "CL:0000000", "doid": "DOID:4"}
DROP_ROOT_CHILDREN = frozenset({"go", "doid"})

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_SYNONYM = re.compile(r'^"((?:[^"\\]|\\.)*)"\s+(EXACT|NARROW|BROAD|RELATED)\b')
_ESCAPE = re.compile(r"\\(.)")


@dataclass(frozen=True)
class Term:
    """One concept: an approved gene or an ontology term, with the forms that name it."""

    id: str  # HGNC:28395, GO:0016477, CL:0000057, DOID:162
    name: str  # the approved name or the ontology label
    symbol: str = ""  # genes: the approved symbol
    synonyms: tuple[str, ...] = ()  # ontologies: EXACT synonyms
    aliases: tuple[str, ...] = ()  # genes: alias symbols
    previous: tuple[str, ...] = ()  # genes: previous symbols
    alias_names: tuple[str, ...] = ()
    previous_names: tuple[str, ...] = ()
    parents: tuple[str, ...] = ()  # ontologies: is_a targets


@dataclass
class Source:
    """A release file as read: which vocabulary, its version and its terms."""

    name: str  # hgnc | go | cl | doid
    version: str
    sha256: str  # of the uncompressed bytes
    size: int  # uncompressed bytes
    terms: list[Term] = field(default_factory=list)

    @property
    def kind(self) -> str:
        return VOCABULARIES[self.name][0]

    @property
    def title(self) -> str:
        return VOCABULARIES[self.name][2]


def read_bytes(path: Path) -> bytes:
    """The file's content, decompressed when it is gzip."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise VocabularyError(f"{path}: no such file") from None
    except OSError as exc:
        raise VocabularyError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        raise VocabularyError(f"{path}: corrupt or truncated gzip file ({exc})") from None


def detect(data: bytes, label: str) -> str:
    """Which vocabulary a release file holds, from its content: hgnc, go, cl or doid."""
    head = data[:65536].decode("utf-8", "replace")
    first = head.split("\n", 1)[0].strip("\r\ufeff")
    if first.startswith("hgnc_id\t"):
        return "hgnc"
    if head.lstrip("\ufeff").startswith(("format-version:", "data-version:", "ontology:")):
        match = re.search(r"^ontology:\s*(\S+)", head, re.M)
        ontology = match.group(1).lower() if match else ""
        for name in ("go", "cl", "doid"):
            if ontology == name or ontology.startswith(name + "/") or ontology == name + ".obo":
                return name
        match = re.search(r"^id:\s*([A-Za-z]+):", head, re.M)
        prefix = match.group(1).upper() + ":" if match else ""
        for name, (_, id_prefix, _) in VOCABULARIES.items():
            if name != "hgnc" and prefix == id_prefix:
                return name
        raise VocabularyError(
            f"{label}: an OBO file, but not GO, the Cell Ontology or the Disease Ontology"
            f" (ontology: {ontology or 'not stated'})"
        )
    shown = first[:60] + ("…" if len(first) > 60 else "")
    raise VocabularyError(
        f"{label}: neither HGNC's complete set nor an OBO file of GO, CL or DOID"
        f" (it begins {shown!r})"
    )


def read_source(data: bytes, label: str, expected: str | None = None) -> Source:
    """Parse a release file (already decompressed) of the vocabulary it is detected to be."""
    name = detect(data, label)
    if expected is not None and name != expected:
        raise VocabularyError(f"{label}: expected the {expected} release but this is {name}")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise VocabularyError(f"{label}: not UTF-8 text ({exc})") from None
    digest = hashlib.sha256(data).hexdigest()
    # Split on line feeds only: str.splitlines also breaks at characters such as U+2028
    # that may occur inside a name.
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    if name == "hgnc":
        version, terms = _read_hgnc(lines, label)
    else:
        version, terms = _read_obo(lines, label, name)
    if not terms:
        raise VocabularyError(f"{label}: no {VOCABULARIES[name][2]} terms found")
    return Source(name, version, digest, len(data), terms)


def _multi(value: str) -> tuple[str, ...]:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    return tuple(part.strip() for part in value.split("|") if part.strip())


def _read_hgnc(lines: list[str], label: str) -> tuple[str, list[Term]]:
    reader = csv.reader(lines, delimiter="\t", quoting=csv.QUOTE_NONE)
    header = [h.strip() for h in next(reader, [])]
    missing = [c for c in HGNC_COLUMNS if c not in header]
    if missing:
        raise VocabularyError(f"{label}: HGNC file without the column(s) {', '.join(missing)}")
    at = {name: header.index(name) for name in HGNC_COLUMNS}
    terms, latest = [], ""
    for line_number, row in enumerate(reader, start=2):
        if not row or not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise VocabularyError(
                f"{label}:{line_number}: {len(row)} columns where the header has"
                f" {len(header)} (a truncated or edited file?)"
            )
        if row[at["status"]].strip() != "Approved":
            continue
        hgnc_id, symbol = row[at["hgnc_id"]].strip(), row[at["symbol"]].strip()
        if not hgnc_id.startswith("HGNC:") or not symbol:
            raise VocabularyError(f"{label}:{line_number}: no HGNC id or symbol")
        modified = row[at["date_modified"]].strip()
        if _DATE.fullmatch(modified) and modified > latest:
            latest = modified
        terms.append(
            Term(
                id=hgnc_id,
                name=row[at["name"]].strip(),
                symbol=symbol,
                aliases=_multi(row[at["alias_symbol"]]),
                previous=_multi(row[at["prev_symbol"]]),
                alias_names=_multi(row[at["alias_name"]]),
                previous_names=_multi(row[at["prev_name"]]),
            )
        )
    return latest or "unknown", terms


def _stanzas(lines: Iterable[str]) -> Iterator[tuple[str, list[tuple[str, str]]]]:
    """(stanza type, [(tag, value)]) for the header ('') and every stanza."""
    kind = ""
    tags: list[tuple[str, str]] = []
    for raw in lines:
        line = raw.strip()
        if not line or line.startswith("!"):
            continue
        if line.startswith("[") and line.endswith("]"):
            yield kind, tags
            kind, tags = line, []
            continue
        tag, sep, value = line.partition(":")
        if sep:
            tags.append((tag.strip(), value.strip()))
    yield kind, tags


def _strip_comment(value: str) -> str:
    """'GO:0008150 ! biological_process' → 'GO:0008150'; trailing {modifiers} go too."""
    value = value.split(" ! ", 1)[0]
    return re.sub(r"\s*\{[^}]*\}$", "", value).strip()


def _read_obo(lines: list[str], label: str, name: str) -> tuple[str, list[Term]]:
    prefix = VOCABULARIES[name][1]
    version, terms = "", []
    for kind, tags in _stanzas(lines):
        if kind == "":
            header = dict(tags)
            data_version = header.get("data-version", "") or header.get("date", "")
            match = _DATE.search(data_version)
            version = match.group(0) if match else data_version
            continue
        if kind != "[Term]":
            continue
        values: dict[str, list[str]] = {}
        for tag, value in tags:
            values.setdefault(tag, []).append(value)
        term_id = _strip_comment(values.get("id", [""])[0])
        label_ = values.get("name", [""])[0]
        if not term_id.startswith(prefix) or not label_:
            continue
        if values.get("is_obsolete", ["false"])[0].lower() == "true":
            continue
        if name == "go" and values.get("namespace", [""])[0] != "biological_process":
            continue
        synonyms = []
        for value in values.get("synonym", []):
            match = _SYNONYM.match(value)
            if match and match.group(2) == "EXACT":
                synonyms.append(_ESCAPE.sub(r"\1", match.group(1)).strip())
        parents = tuple(_strip_comment(v) for v in values.get("is_a", []))
        terms.append(
            Term(
                id=term_id,
                name=label_,
                synonyms=tuple(s for s in synonyms if s),
                parents=parents,
            )
        )
    if not terms:
        raise VocabularyError(f"{label}: no live {prefix} terms in this OBO file")
    root = ROOTS[name]
    general = {root}
    if name in DROP_ROOT_CHILDREN:
        general |= {t.id for t in terms if root in t.parents}
    # A root of a side hierarchy (CL's cytoplasm and nucleus terms) has no is_a at all.
    kept = [t for t in terms if t.id not in general and t.parents]
    return version or "unknown", kept

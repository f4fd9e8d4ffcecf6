"""Installed vocabularies in the data directory: install, list, load.

Layout of ``<data dir>/vocab/``, per vocabulary NAME (hgnc, go, cl, doid):

* ``NAME.json.gz``: the compiled tables (:mod:`minemig.vocab.compile`), loaded by readers;
* ``NAME.meta.json``: its header alone (release version, sha256 of the release file, term
  and form counts, where it came from, when it was installed), for ``minemig vocab list``;
* ``NAME.source.gz``: the release file as installed, so the tables can be compiled again
  when minemig's tokenizer or rules change (this happens on load, once, by itself).

Every file is written to a temporary name and renamed into place, the header last, so a
reader never sees half an installation.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from minemig.errors import VocabularyError
from minemig.vocab.sources import VOCABULARIES, read_bytes, read_source

log = logging.getLogger("minemig")

ORDER = ("hgnc", "cl", "go", "doid")  # also the order of matching and of listing
_HEADER_FIELDS = (
    "format",
    "name",
    "kind",
    "title",
    "version",
    "sha256",
    "size",
    "source",
    "installed",
    "terms",
    "forms",
    "compiler",
)


def vocab_dir(data_dir: Path | None = None) -> Path:
    if data_dir is None:
        from minemig.settings import data_dir as default_data_dir

        data_dir = default_data_dir()
    return Path(data_dir).expanduser() / "vocab"


@dataclass(frozen=True)
class VocabularyInfo:
    """What one installed vocabulary is: the release, its checksum and its size."""

    name: str  # hgnc | go | cl | doid
    kind: str  # gene | function | cell_type | disease
    title: str
    version: str  # HGNC: latest date_modified; OBO: data-version (release date)
    sha256: str  # of the uncompressed release file
    size: int
    source: str  # the file or URL it was installed from
    installed: str  # ISO 8601, UTC
    terms: int
    forms: int
    compiler: str  # fingerprint of tokenizer, keys, rules and word lists

    @classmethod
    def from_header(cls, header: dict[str, Any]) -> VocabularyInfo:
        try:
            return cls(**{k: header[k] for k in cls.__dataclass_fields__})
        except (KeyError, TypeError) as exc:
            raise VocabularyError(f"an installed vocabulary header lacks {exc}") from None

    @property
    def label(self) -> str:
        """'hgnc 2024-10-18 (sha256 517a9f4e3dff)': what a run records."""
        return f"{self.name} {self.version} (sha256 {self.sha256[:12]})"


@dataclass(eq=False)
class CompiledVocabulary:
    """One vocabulary's lookup tables, as the matcher reads them."""

    info: VocabularyInfo
    entities: list[list[str]]  # [entity_id, display name, external id]
    names: dict[str, list[int]]  # key → [flags, entity index, ...]
    symbols: dict[str, list[int]]
    name_spans: dict[str, int]  # first token → most tokens of a form starting with it
    symbol_spans: dict[str, int]
    name_pairs: frozenset[str]  # keys of the first two tokens of the longer forms
    symbol_pairs: frozenset[str]

    @property
    def kind(self) -> str:
        return self.info.kind


@dataclass(eq=False)
class Vocabularies:
    """The installed vocabularies, loaded; ``version`` keys what they were used for."""

    items: tuple[CompiledVocabulary, ...]
    _by_id: dict[tuple[str, str], str] = field(default_factory=dict, repr=False)
    _first: tuple[dict[str, list[tuple[int, int]]], dict[str, list[tuple[int, int]]]] | None = (
        field(default=None, repr=False)
    )

    @property
    def infos(self) -> tuple[VocabularyInfo, ...]:
        return tuple(v.info for v in self.items)

    @property
    def version(self) -> str:
        """A digest of the releases and of how they were compiled, for provenance."""
        digest = hashlib.sha256()
        for info in self.infos:
            digest.update(f"{info.name}:{info.version}:{info.sha256}:{info.compiler}\n".encode())
        return digest.hexdigest()[:16]

    def describe(self) -> str:
        """One line naming every release: 'hgnc 2024-10-18 (sha256 …); cl …'."""
        return "; ".join(info.label for info in self.infos)

    def versions(self) -> dict[str, dict[str, str]]:
        """{name: {version, sha256}} for a run's record."""
        return {i.name: {"version": i.version, "sha256": i.sha256} for i in self.infos}

    def first_tokens(
        self,
    ) -> tuple[dict[str, list[tuple[int, int]]], dict[str, list[tuple[int, int]]]]:
        """For names and for symbols: first token → [(vocabulary index, most tokens)], one
        index over all vocabularies so that each token of a text costs one look-up."""
        if self._first is None:
            merged: tuple[dict[str, list[tuple[int, int]]], ...] = ({}, {})
            for index, vocabulary in enumerate(self.items):
                for table, spans in zip(
                    merged, (vocabulary.name_spans, vocabulary.symbol_spans), strict=True
                ):
                    for first, limit in spans.items():
                        table.setdefault(first, []).append((index, limit))
            self._first = (merged[0], merged[1])
        return self._first

    def xref(self, kind: str, entity_id: str) -> str:
        """The external id of an entity: 'HGNC:28395' for SGMS2; '' when unknown."""
        if not self._by_id:
            for vocabulary in self.items:
                for entity in vocabulary.entities:
                    if entity[2]:
                        self._by_id[(vocabulary.kind, entity[0])] = entity[2]
        return self._by_id.get((kind, entity_id), "")

    def gene_symbol(self, text: str) -> str | None:
        """The approved symbol a single symbol-like word stands for, when it is unambiguous:
        'SMS2' → 'SGMS2', 'Tspan4' → 'TSPAN4'; None otherwise, and for a family name
        ('Rho'). Other guards do not apply: it is for words the caller already reads as
        gene symbols."""
        from minemig.vocab.compile import FAMILY, GUARD_MASK, RANK_SHIFT
        from minemig.vocab.normalise import is_mouse_case, symbol_token

        key = "".join(symbol_token(part) for part in text.replace("‐", "-").split("-"))
        for vocabulary in self.items:
            if vocabulary.kind != "gene":
                continue
            entry = vocabulary.symbols.get(key)
            if entry is None and is_mouse_case(key):
                upper = vocabulary.symbols.get(key.upper())
                entry = upper if upper is not None and upper[0] >> RANK_SHIFT == 0 else None
            if entry is not None and len(entry) == 2 and entry[0] & GUARD_MASK != FAMILY:
                return vocabulary.entities[entry[1]][0]
        return None


# -- install ---------------------------------------------------------------------------


def _now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def install_file(
    path: Path, data_dir: Path | None = None, *, origin: str = "", expected: str | None = None
) -> VocabularyInfo:
    """Read, check and compile a release file (plain or gzip) and install it.

    ``origin`` is recorded as where it came from (default: the file's name); ``expected``
    names the vocabulary the file must be (for downloads).
    """
    data = read_bytes(path)
    source = read_source(data, str(path), expected)
    compiled = _compile(source, origin or path.name)
    kept = gzip.compress(data, compresslevel=6, mtime=0)
    directory = vocab_dir(data_dir)
    try:
        _write_atomically(directory / f"{source.name}.source.gz", kept)
        _save(directory, compiled)
    except OSError as exc:
        raise VocabularyError(f"cannot write to {directory}: {exc.strerror or exc}") from None
    log.info("installed %s %s from %s", source.name, source.version, origin or path)
    return VocabularyInfo.from_header(compiled)


def _compile(source: Any, origin: str, installed: str | None = None) -> dict[str, Any]:
    from minemig.vocab.compile import compile_source

    return compile_source(source, origin=origin, installed=installed or _now())


def _save(directory: Path, compiled: dict[str, Any]) -> None:
    name = compiled["name"]
    body = json.dumps(compiled, ensure_ascii=False, separators=(",", ":")).encode()
    _write_atomically(directory / f"{name}.json.gz", gzip.compress(body, compresslevel=6, mtime=0))
    header = {k: compiled[k] for k in _HEADER_FIELDS}
    _write_atomically(directory / f"{name}.meta.json", json.dumps(header, indent=2).encode())


# -- list ------------------------------------------------------------------------------


def _meta_files(directory: Path) -> Iterator[tuple[str, Path]]:
    for name in ORDER:
        path = directory / f"{name}.meta.json"
        if path.is_file():
            yield name, path


def installed_vocabularies(data_dir: Path | None = None) -> list[VocabularyInfo]:
    """What is installed, from the headers alone (no tables are loaded)."""
    infos = []
    for name, path in _meta_files(vocab_dir(data_dir)):
        try:
            header = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise VocabularyError(f"{path}: unreadable ({exc}); install {name} again") from None
        infos.append(VocabularyInfo.from_header(header))
    return infos


# -- load ------------------------------------------------------------------------------

_cache: dict[tuple[Any, ...], Vocabularies | None] = {}
_cache_lock = threading.Lock()


def load_installed_vocabularies(data_dir: Path | None = None) -> Vocabularies | None:
    """Every installed vocabulary, loaded (None when none is installed).

    Loaded once per process and installation: a second call returns the same object until
    a vocabulary is installed again. Tables compiled by another tokenizer or rule version
    are compiled again from the kept release file first.
    """
    directory = vocab_dir(data_dir)
    with _cache_lock:
        key = _signature(directory)
        if key in _cache:
            return _cache[key]
        items = tuple(_load(directory, name) for name, _ in _meta_files(directory))
        loaded = Vocabularies(items) if items else None
        if loaded is not None:
            loaded.first_tokens()  # built here, before any worker process is forked
        _cache.clear()  # only the current installation is worth keeping
        _cache[_signature(directory)] = loaded  # a recompilation rewrote the headers
        return loaded


def _signature(directory: Path) -> tuple[Any, ...]:
    signature: list[Any] = [str(directory.resolve())]
    for _, path in _meta_files(directory):
        stat = path.stat()
        signature.append((path.name, stat.st_mtime_ns, stat.st_size))
    return tuple(signature)


def _load(directory: Path, name: str) -> CompiledVocabulary:
    from minemig.vocab.compile import FORMAT, compiler_fingerprint

    path = directory / f"{name}.json.gz"
    try:
        compiled = json.loads(gzip.decompress(path.read_bytes()))
    except FileNotFoundError:
        raise VocabularyError(f"{path} is missing; install {name} again") from None
    except (OSError, EOFError, ValueError) as exc:
        raise VocabularyError(f"{path}: unreadable ({exc}); install {name} again") from None
    if compiled.get("format") != FORMAT or compiled.get("compiler") != compiler_fingerprint():
        compiled = _recompile(directory, name, compiled)
    if name not in VOCABULARIES or compiled.get("name") != name:
        raise VocabularyError(f"{path} does not hold the {name} vocabulary; install it again")
    return CompiledVocabulary(
        info=VocabularyInfo.from_header(compiled),
        entities=compiled["entities"],
        names=compiled["names"],
        symbols=compiled["symbols"],
        name_spans=compiled["name_spans"],
        symbol_spans=compiled["symbol_spans"],
        name_pairs=frozenset(compiled["name_pairs"]),
        symbol_pairs=frozenset(compiled["symbol_pairs"]),
    )


def _recompile(directory: Path, name: str, old: dict[str, Any]) -> dict[str, Any]:
    source_path = directory / f"{name}.source.gz"
    log.info("compiling the %s vocabulary again for this version of minemig", name)
    data = read_bytes(source_path)
    source = read_source(data, str(source_path), expected=name)
    if source.sha256 != old.get("sha256"):
        raise VocabularyError(
            f"{source_path} is not the release {name} was installed from; install it again"
        )
    compiled = _compile(source, str(old.get("source", "")), str(old.get("installed", "")))
    try:
        _save(directory, compiled)
    except OSError as exc:  # a read-only data directory still reads, compiling each time
        log.warning("cannot save the recompiled %s vocabulary: %s", name, exc)
    return compiled

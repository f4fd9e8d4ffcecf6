"""Public vocabularies: reading releases, installing, listing, fetching, and matching them.

The releases are small files written here in the real formats (HGNC's tab-separated complete
set, OBO 1.2); the fetch tests serve them from a loopback HTTP server started by the test.
Matching runs on Docs made by the migrasome reader's own pipeline (tokenizer, sentences,
abbreviation detector), with nothing taken by the gazetteer unless a test says so.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import socket
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cli_runner import Result, Run, run_cli

from minemig.errors import VocabularyError
from minemig.nlp.vocabulary import vocabulary_mentions
from minemig.vocab import (
    Vocabularies,
    install_file,
    installed_vocabularies,
    load_installed_vocabularies,
)
from minemig.vocab import download as vocab_download
from minemig.vocab import store as vocab_store

# -- release files ---------------------------------------------------------------------------

HGNC_COLUMNS = (
    "hgnc_id",
    "symbol",
    "name",
    "locus_group",
    "locus_type",
    "status",
    "location",
    "alias_symbol",
    "alias_name",
    "prev_symbol",
    "prev_name",
    "date_modified",
)


def _gene(
    hgnc_id: str,
    symbol: str,
    name: str,
    aliases: str = "",
    alias_names: str = "",
    previous: str = "",
    previous_names: str = "",
    modified: str = "2023-01-20",
    status: str = "Approved",
) -> str:
    def multi(value: str) -> str:
        return f'"{value}"' if "|" in value else value

    return "\t".join(
        (
            hgnc_id,
            symbol,
            name,
            "protein-coding gene",
            "gene with protein product",
            status,
            "1p36",
            multi(aliases),
            multi(alias_names),
            multi(previous),
            multi(previous_names),
            modified,
        )
    )


GENES = (
    _gene(
        "HGNC:28395", "SGMS2", "sphingomyelin synthase 2", "MGC26963|SMS2", modified="2024-10-18"
    ),
    _gene("HGNC:11852", "TSPAN4", "tetraspanin 4", "NAG-2|TETRASPAN|TM4SF7"),
    _gene("HGNC:1516", "CAT", "catalase"),
    _gene("HGNC:9588", "PTEN", "phosphatase and tensin homolog", "MMAC1|TEP1"),
    _gene("HGNC:11998", "TP53", "tumor protein p53", "p53|LFS1"),
    _gene("HGNC:2514", "LARGE1", "LARGE xylosyl- and glucuronyltransferase 1", previous="LARGE"),
    _gene("HGNC:2082", "CLOCK", "clock circadian regulator", "KIAA0334|bHLHe8"),
    _gene("HGNC:16262", "YAP1", "Yes1 associated transcriptional regulator", "YAP65|YAP-1"),
    _gene("HGNC:30935", "YY1AP1", "YY1 associated protein 1", "YY1AP|HCCA2|YAP"),
    _gene(
        "HGNC:5961",
        "IKBKG",
        "inhibitor of nuclear factor kappa B kinase regulatory subunit gamma",
        "NEMO|FIP3",
    ),
    _gene("HGNC:17224", "RAB11FIP3", "RAB11 family interacting protein 3", "KIAA0665|Rab11-FIP3"),
    _gene("HGNC:667", "RHOA", "ras homolog family member A"),
    _gene("HGNC:668", "RHOB", "ras homolog family member B"),
    _gene("HGNC:669", "RHOC", "ras homolog family member C"),
    _gene("HGNC:670", "RHOD", "ras homolog family member D", "RhoHP1|Rho"),
    _gene(
        "HGNC:11121",
        "SMPD2",
        "sphingomyelin phosphodiesterase 2",
        "nSMase|ISC1",
        "neutral sphingomyelinase",
    ),
    _gene(
        "HGNC:14320",
        "SMPD3",
        "sphingomyelin phosphodiesterase 3",
        "NSMASE2",
        "neutral sphingomyelinase II",
    ),
    _gene("HGNC:10537", "SARS1", "seryl-tRNA synthetase 1", previous="SARS"),
    _gene("HGNC:620", "APP", "amyloid beta precursor protein", previous_names="Alzheimer disease"),
    _gene("HGNC:3467", "ESR1", "estrogen receptor 1", "ER|NR3A1|Era|ER-alpha"),
    _gene("HGNC:21748", "SOSTDC1", "sclerostin domain containing 1", "ECTODIN|USAG1|WISE"),
    _gene("HGNC:99999", "WDX1", "withdrawn", status="Entry Withdrawn", modified="2025-01-01"),
)
HGNC_TEXT = "\t".join(HGNC_COLUMNS) + "\n" + "\n".join(GENES) + "\n"

CL_TEXT = """format-version: 1.2
data-version: cl/releases/2026-06-08/cl-basic.owl
ontology: cl/cl-basic

[Term]
id: CL:0000000
name: cell

[Term]
id: CL:0000057
name: fibroblast
synonym: "fibroblastic cell" EXACT []
is_a: CL:0000000 ! cell

[Term]
id: CL:0000775
name: neutrophil
synonym: "PMN" RELATED OMO:0003000 []
is_a: CL:0000000 ! cell

[Term]
id: CL:0000359
name: vascular associated smooth muscle cell
synonym: "vascular smooth muscle cell" EXACT []
synonym: "VSMC" EXACT OMO:0003000 []
is_a: CL:0000000 ! cell

[Term]
id: CL:0000999
name: retired cell type
is_obsolete: true

[Typedef]
id: part_of
name: part of
"""

DOID_TEXT = """format-version: 1.2
data-version: releases/2024-01-31/doid.obo
date: 31:01:2024 10:37
ontology: doid

[Term]
id: DOID:4
name: disease

[Term]
id: DOID:7
name: disease of anatomical entity
is_a: DOID:4 ! disease

[Term]
id: DOID:332
name: amyotrophic lateral sclerosis
synonym: "ALS" EXACT []
synonym: "Lou Gehrig's disease" RELATED []
is_a: DOID:7 ! disease of anatomical entity

[Term]
id: DOID:10652
name: Alzheimer's disease
synonym: "Alzheimer disease" EXACT []
is_a: DOID:7 ! disease of anatomical entity

[Term]
id: DOID:2316
name: brain ischemia
synonym: "cerebral ischaemia" EXACT []
is_a: DOID:7 ! disease of anatomical entity

[Term]
id: DOID:9352
name: type 2 diabetes mellitus
synonym: "type 2 diabetes" EXACT []
is_a: DOID:7 ! disease of anatomical entity

[Term]
id: DOID:9999
name: an obsolete disease
is_obsolete: true
"""

GO_TEXT = r"""format-version: 1.2
data-version: releases/2024-06-17
default-namespace: gene_ontology
ontology: go

[Term]
id: GO:0008150
name: biological_process
namespace: biological_process

[Term]
id: GO:0040007
name: growth
namespace: biological_process
is_a: GO:0008150 ! biological_process

[Term]
id: GO:0009987
name: cellular process
namespace: biological_process
is_a: GO:0008150 ! biological_process

[Term]
id: GO:0016477
name: cell migration
namespace: biological_process
synonym: "cell \"crawling\" movement" EXACT []
is_a: GO:0009987 ! cellular process

[Term]
id: GO:0001525
name: angiogenesis
namespace: biological_process
synonym: "blood vessel formation from pre-existing blood vessels" EXACT systematic_synonym []
is_a: GO:0009987 ! cellular process

[Term]
id: GO:0006412
name: translation
namespace: biological_process
is_a: GO:0009987 ! cellular process

[Term]
id: GO:0005515
name: protein binding
namespace: molecular_function

[Term]
id: GO:0000001
name: an obsolete process
namespace: biological_process
is_obsolete: true
"""

RELEASES = {
    "hgnc": ("hgnc_complete_set.txt", HGNC_TEXT),
    "cl": ("cl-basic.obo", CL_TEXT),
    "doid": ("doid.obo", DOID_TEXT),
    "go": ("go-basic.obo", GO_TEXT),
}


def release(directory: Path, name: str, *, compress: bool = False) -> Path:
    file_name, text = RELEASES[name]
    directory.mkdir(parents=True, exist_ok=True)
    if compress:
        path = directory / f"{file_name}.gz"
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path = directory / file_name
        path.write_text(text, encoding="utf-8")
    return path


# -- fixtures --------------------------------------------------------------------------------


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "data"
    monkeypatch.setenv("MINEMIG_DATA_DIR", str(directory))
    for name in ("NO_PROXY", "no_proxy"):  # never send loopback requests to a proxy
        monkeypatch.setenv(name, "127.0.0.1")
    return directory


@pytest.fixture(scope="module")
def vocabularies(tmp_path_factory: pytest.TempPathFactory) -> Vocabularies:
    """All four test releases, installed once for the matching tests."""
    root = tmp_path_factory.mktemp("vocab")
    for name in RELEASES:
        install_file(release(root / "releases", name), root / "data")
    loaded = load_installed_vocabularies(root / "data")
    assert loaded is not None
    return loaded


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Run:
    """``minemig ARGS...`` in-process: exit status, stdout, stderr."""
    return lambda *args: run_cli(capsys, *args)


def one_error_line(result: Result) -> str:
    assert result.code == 1, result
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: [M600] "), result.err
    return lines[0]


# -- reading and installing ------------------------------------------------------------------


def test_install_compiles_each_release_and_list_shows_version_checksum_and_terms(
    run: Run, data_dir: Path, tmp_path: Path
) -> None:
    files = [release(tmp_path / "in", name) for name in ("hgnc", "go")]
    files += [release(tmp_path / "in", name, compress=True) for name in ("cl", "doid")]
    result = run("vocab", "install", *files)
    assert result.code == 0, result.err
    assert [line.split(":")[0] for line in result.out.splitlines()] == ["hgnc", "go", "cl", "doid"]

    listed = run("vocab", "list")
    assert listed.code == 0
    rows = {line.split()[0]: line for line in listed.out.splitlines()}
    assert list(rows) == ["hgnc", "cl", "go", "doid"]
    for name, (_, text) in RELEASES.items():
        assert hashlib.sha256(text.encode()).hexdigest() in rows[name]  # of the uncompressed file
    assert "2024-10-18" in rows["hgnc"]  # the latest date_modified of an approved row
    assert (
        "2026-06-08" in rows["cl"] and "2024-01-31" in rows["doid"] and "2024-06-17" in rows["go"]
    )

    infos = {info.name: info for info in installed_vocabularies()}
    assert infos["hgnc"].terms == len(GENES) - 1  # the withdrawn entry is left out
    assert infos["cl"].terms == 3  # not the root 'cell', not the obsolete term
    assert infos["doid"].terms == 4  # not the root, its child or the obsolete term
    assert infos["go"].terms == 3  # biological processes below the root's children only
    assert infos["cl"].source == "cl-basic.obo.gz"
    assert sorted(p.name for p in (data_dir / "vocab").iterdir()) == sorted(
        f"{name}.{suffix}" for name in RELEASES for suffix in ("json.gz", "meta.json", "source.gz")
    )


def test_a_file_is_recognised_by_its_content_not_its_name(
    run: Run, data_dir: Path, tmp_path: Path
) -> None:
    path = tmp_path / "download.bin"
    path.write_bytes(gzip.compress(DOID_TEXT.encode()))
    result = run("vocab", "install", path)
    assert result.code == 0, result.err
    assert result.out.startswith("doid: installed release 2024-01-31")


def test_nothing_installed_is_said_plainly(run: Run, data_dir: Path) -> None:
    result = run("vocab", "list")
    assert result.code == 0
    assert "No vocabulary installed" in result.out
    assert load_installed_vocabularies() is None


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"# minemig\nnot a vocabulary\n", "neither HGNC's complete set nor an OBO file"),
        (gzip.compress(HGNC_TEXT.encode())[:200], "corrupt or truncated gzip"),
        (b"hgnc_id\tsymbol\tname\nHGNC:1\tA1BG\tx\n", "without the column(s) status"),
        (HGNC_TEXT.encode()[: HGNC_TEXT.index("TSPAN4") + 30], "columns where the header has"),
        (b"format-version: 1.2\nontology: uberon\n\n[Term]\nid: UBERON:1\nname: x\n", "not GO"),
        (b"format-version: 1.2\nontology: cl\n", "no live CL: terms"),
        (b"\xff\xfehgnc_id\tsymbol", "neither HGNC's complete set"),
    ],
    ids=["not-a-vocabulary", "corrupt-gzip", "missing-columns", "truncated", "other-ontology",
         "no-terms", "not-utf8"],
)  # fmt: skip
def test_a_wrong_or_corrupt_file_is_one_clear_error_and_installs_nothing(
    run: Run, data_dir: Path, tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "release.txt"
    path.write_bytes(content)
    line = one_error_line(run("vocab", "install", path))
    assert message in line and str(path) in line
    assert not (data_dir / "vocab").exists() or not list((data_dir / "vocab").glob("*.meta.json"))


def test_tables_compiled_by_another_version_are_compiled_again_from_the_kept_release(
    data_dir: Path, tmp_path: Path
) -> None:
    install_file(release(tmp_path, "hgnc"))
    compiled_path = data_dir / "vocab" / "hgnc.json.gz"
    compiled = json.loads(gzip.decompress(compiled_path.read_bytes()))
    compiled["compiler"] = "an-older-one"
    compiled["symbols"] = {}
    compiled_path.write_bytes(gzip.compress(json.dumps(compiled).encode()))
    (data_dir / "vocab" / "hgnc.meta.json").touch()

    loaded = load_installed_vocabularies()
    assert loaded is not None and loaded.gene_symbol("SMS2") == "SGMS2"
    again = json.loads(gzip.decompress(compiled_path.read_bytes()))
    assert again["compiler"] != "an-older-one" and again["symbols"]
    assert load_installed_vocabularies() is loaded  # loaded once per installation


def test_the_version_changes_with_the_release_so_extractions_are_keyed_by_it(
    data_dir: Path, tmp_path: Path
) -> None:
    install_file(release(tmp_path, "hgnc"))
    first = load_installed_vocabularies()
    newer = tmp_path / "newer" / "hgnc_complete_set.txt"
    newer.parent.mkdir()
    newer.write_text(HGNC_TEXT.replace("2024-10-18", "2024-11-05"), encoding="utf-8")
    install_file(newer)
    second = load_installed_vocabularies()
    assert first is not None and second is not None and second is not first
    assert first.version != second.version
    assert second.describe().startswith("hgnc 2024-11-05 (sha256 ")
    assert second.versions()["hgnc"]["version"] == "2024-11-05"
    assert second.xref("gene", "SGMS2") == "HGNC:28395"


# -- fetching --------------------------------------------------------------------------------


@dataclass
class Answer:
    status: int = 200
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    declared_length: int | None = None  # a Content-Length larger than the body: cut short


class ReleaseServer:
    """Loopback HTTP server answering each path from a queue, then with its release."""

    def __init__(self) -> None:
        self.releases: dict[str, bytes] = {}
        self.queued: dict[str, deque[Answer]] = {}
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests.append(self.path)
                queue = server.queued.get(self.path)
                if queue:
                    answer = queue.popleft()
                elif self.path in server.releases:
                    answer = Answer(body=server.releases[self.path])
                else:
                    answer = Answer(404, b"not found")
                self.send_response(answer.status)
                for name, value in answer.headers:
                    self.send_header(name, value)
                length = answer.declared_length or len(answer.body)
                self.send_header("Content-Length", str(length))
                self.end_headers()
                self.wfile.write(answer.body)
                if answer.declared_length:
                    self.close_connection = True

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def releases(monkeypatch: pytest.MonkeyPatch, data_dir: Path) -> Iterator[ReleaseServer]:
    server = ReleaseServer()
    for name, (file_name, text) in RELEASES.items():
        server.releases[f"/{file_name}"] = text.encode()
        monkeypatch.setenv(f"MINEMIG_VOCAB_URL_{name.upper()}", f"{server.url}/{file_name}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    recorded: list[float] = []
    monkeypatch.setattr(vocab_download, "sleep", recorded.append)
    return recorded


def test_fetch_downloads_and_installs_every_vocabulary(
    run: Run, releases: ReleaseServer, sleeps: list[float], data_dir: Path
) -> None:
    result = run("vocab", "fetch")
    assert result.code == 0, result.err
    assert [line.split(":")[0] for line in result.out.splitlines()] == ["hgnc", "go", "cl", "doid"]
    assert sorted(releases.requests) == sorted(f"/{f}" for f, _ in RELEASES.values())
    infos = {info.name: info for info in installed_vocabularies()}
    assert infos["go"].source == f"{releases.url}/go-basic.obo"
    assert sleeps == []
    assert not list((data_dir / "vocab").glob(".*"))  # no download or temporary file left


def test_fetch_retries_a_503_honouring_retry_after_and_a_body_cut_short(
    run: Run, releases: ReleaseServer, sleeps: list[float]
) -> None:
    releases.queued["/hgnc_complete_set.txt"] = deque(
        [
            Answer(503, b"busy", headers=(("Retry-After", "7"),)),
            Answer(200, HGNC_TEXT.encode()[:100], declared_length=len(HGNC_TEXT)),
        ]
    )
    result = run("vocab", "fetch", "hgnc")
    assert result.code == 0, result.err
    assert releases.requests == ["/hgnc_complete_set.txt"] * 3
    assert sleeps[0] == 7.0 and len(sleeps) == 2
    assert load_installed_vocabularies() is not None


def test_fetch_without_a_reachable_host_is_one_line_and_exit_1(
    run: Run, data_dir: Path, monkeypatch: pytest.MonkeyPatch, sleeps: list[float]
) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("MINEMIG_VOCAB_URL_CL", f"http://127.0.0.1:{port}/cl-basic.obo")
    line = one_error_line(run("vocab", "fetch", "cl"))
    assert f"cannot download cl from http://127.0.0.1:{port}/cl-basic.obo" in line
    assert "refused" in line.lower() and "gave up after 5 tries" in line
    assert "minemig vocab install FILE" in line
    assert len(sleeps) == vocab_download.MAX_TRIES - 1
    assert not (data_dir / "vocab").exists() or not list((data_dir / "vocab").iterdir())


def test_fetch_does_not_retry_a_missing_file_and_reports_each_failure(
    run: Run, releases: ReleaseServer, sleeps: list[float]
) -> None:
    releases.queued["/doid.obo"] = deque([Answer(404, b"gone")])
    result = run("vocab", "fetch", "cl", "doid")
    line = one_error_line(result)
    assert "cannot download doid from" in line and "HTTP 404" in line
    assert result.out.startswith("cl: installed release 2026-06-08")  # the other one is kept
    assert releases.requests.count("/doid.obo") == 1 and sleeps == []


def test_fetch_refuses_a_release_of_another_vocabulary(
    run: Run, releases: ReleaseServer, sleeps: list[float]
) -> None:
    releases.queued["/cl-basic.obo"] = deque([Answer(200, DOID_TEXT.encode())])
    line = one_error_line(run("vocab", "fetch", "cl"))
    assert "expected the cl release but this is doid" in line


# -- matching --------------------------------------------------------------------------------


def found(
    reader: Any, vocabularies: Vocabularies | None, text: str, taken: frozenset[int] = frozenset()
) -> list[tuple[str, str, str]]:
    doc = reader.nlp(text)
    return [(m.text, m.kind, m.entity_id) for m in vocabulary_mentions(doc, vocabularies, taken)]


def test_genes_are_normalised_to_the_approved_symbol(
    reader: Any, vocabularies: Vocabularies
) -> None:
    text = (
        "Sphingomyelin synthase 2 (SMS2) accumulated at migrasomes, and SMS2 knockdown in "
        "Tspan4-GFP cells reduced them, as did loss of sphingomyelin synthase 2."
    )
    assert found(reader, vocabularies, text) == [
        ("Sphingomyelin synthase 2", "gene", "SGMS2"),
        ("SMS2", "gene", "SGMS2"),
        ("SMS2", "gene", "SGMS2"),
        ("Tspan4", "gene", "TSPAN4"),
        ("sphingomyelin synthase 2", "gene", "SGMS2"),
    ]
    mention = vocabulary_mentions(reader.nlp(text), vocabularies)[0]
    assert (mention.source, mention.unlisted, mention.name) == ("vocabulary", True, "SGMS2")
    assert text[mention.start_char : mention.end_char] == "Sphingomyelin synthase 2"


def test_a_short_symbol_needs_the_abstract_to_support_it(
    reader: Any, vocabularies: Vocabularies
) -> None:
    assert found(reader, vocabularies, "The CAT scan showed no lesion.") == []
    assert found(reader, vocabularies, "CAT protein was packed into migrasomes.") == [
        ("CAT", "gene", "CAT")
    ]
    assert found(reader, vocabularies, "Catalase (CAT) was enriched; CAT rose.") == [
        ("Catalase", "gene", "CAT"),
        ("CAT", "gene", "CAT"),
        ("CAT", "gene", "CAT"),
    ]


def test_english_words_are_taken_only_in_gene_context(
    reader: Any, vocabularies: Vocabularies
) -> None:
    assert found(reader, vocabularies, "LARGE vesicles and WISE choices were seen.") == []
    assert found(reader, vocabularies, "LARGE knockdown reduced migrasomes.") == [
        ("LARGE", "gene", "LARGE1")
    ]
    assert found(reader, vocabularies, "Clock time was recorded.") == []
    assert found(reader, vocabularies, "Clock-deficient cells made fewer migrasomes.") == [
        ("Clock", "gene", "CLOCK")
    ]


def test_abbreviations_units_and_names_of_other_things_are_not_genes(
    reader: Any, vocabularies: Vocabularies
) -> None:
    assert found(reader, vocabularies, "SARS-CoV-2 infection induced migrasomes.") == []
    assert found(reader, vocabularies, "ER stress rose in ER-positive cancer.") == [
        ("ER", "gene", "ESR1")
    ]
    # A previous HGNC name that is a disease belongs to the Disease Ontology, not to APP.
    assert found(reader, vocabularies, "Migrasomes in Alzheimer disease.") == [
        ("Alzheimer disease", "disease", "DOID:10652")
    ]


def test_a_form_two_genes_share_is_taken_only_when_the_abstract_says_which(
    reader: Any, vocabularies: Vocabularies
) -> None:
    assert found(reader, vocabularies, "YAP entered the nucleus.") == []
    assert found(reader, vocabularies, "Yap1 was required; YAP entered the nucleus.") == [
        ("Yap1", "gene", "YAP1"),
        ("YAP", "gene", "YAP1"),
    ]
    assert found(reader, vocabularies, "Depletion of FIP3 trapped integrins.") == []
    # a family name stays a family, whatever the context
    assert found(reader, vocabularies, "Rho signaling and neutral sphingomyelinase activity.") == []
    assert found(reader, vocabularies, "neutral sphingomyelinase II and p53") == [
        ("neutral sphingomyelinase II", "gene", "SMPD3"),
        ("p53", "gene", "TP53"),
    ]


def test_cell_types_processes_and_diseases_get_their_ontology_ids(
    reader: Any, vocabularies: Vocabularies
) -> None:
    text = (
        "Fibroblasts and vascular smooth muscle cells (VSMCs) released migrasomes during cell"
        " migration and angiogenesis in cerebral ischemia; VSMCs from amyotrophic lateral"
        " sclerosis (ALS) patients released more, and ALS worsened."
    )
    assert found(reader, vocabularies, text) == [
        ("Fibroblasts", "cell_type", "CL:0000057"),
        ("vascular smooth muscle cells", "cell_type", "CL:0000359"),
        ("VSMCs", "cell_type", "CL:0000359"),
        ("cell migration", "function", "GO:0016477"),
        ("angiogenesis", "function", "GO:0001525"),
        ("cerebral ischemia", "disease", "DOID:2316"),
        ("VSMCs", "cell_type", "CL:0000359"),
        ("amyotrophic lateral sclerosis", "disease", "DOID:332"),
        ("ALS", "disease", "DOID:332"),
        ("ALS", "disease", "DOID:332"),
    ]
    # Alone, the abbreviations, the root and the general words are not taken.
    assert found(reader, vocabularies, "ALS and VSMC cells, growth and translation.") == []


def test_a_short_form_defined_as_something_else_is_not_the_term(
    reader: Any, vocabularies: Vocabularies
) -> None:
    text = "Acetolactate synthase (ALS) was assayed; ALS activity fell."
    assert found(reader, vocabularies, text) == []


def test_taken_tokens_are_left_alone_and_nothing_overlaps(
    reader: Any, vocabularies: Vocabularies
) -> None:
    text = "Sphingomyelin synthase 2 marks migrasomes."
    assert found(reader, vocabularies, text, frozenset({0})) == []
    mentions = vocabulary_mentions(reader.nlp("amyotrophic lateral sclerosis"), vocabularies)
    assert [(m.start, m.end) for m in mentions] == [(0, 3)]


def test_without_vocabularies_nothing_is_found(reader: Any) -> None:
    assert found(reader, None, "SMS2 knockdown in fibroblasts.") == []


def test_gene_symbol_normalises_a_word_already_read_as_a_gene(vocabularies: Vocabularies) -> None:
    assert vocabularies.gene_symbol("SMS2") == "SGMS2"
    assert vocabularies.gene_symbol("Tspan4") == "TSPAN4"
    assert vocabularies.gene_symbol("TSPAN-4") == "TSPAN4"
    assert vocabularies.gene_symbol("YAP") is None  # two genes
    assert vocabularies.gene_symbol("Rho") is None  # a family
    assert vocabularies.gene_symbol("FOO1") is None


def test_recompiling_keeps_where_and_when_it_was_installed(data_dir: Path, tmp_path: Path) -> None:
    info = install_file(release(tmp_path, "cl"))
    directory = data_dir / "vocab"
    compiled = json.loads(gzip.decompress((directory / "cl.json.gz").read_bytes()))
    compiled["format"] = 0
    (directory / "cl.json.gz").write_bytes(gzip.compress(json.dumps(compiled).encode()))
    vocab_store._cache.clear()
    loaded = load_installed_vocabularies()
    assert loaded is not None
    assert loaded.infos[0].installed == info.installed and loaded.infos[0].source == "cl-basic.obo"


def test_a_damaged_installation_is_a_clear_error(data_dir: Path, tmp_path: Path) -> None:
    install_file(release(tmp_path, "cl"))
    (data_dir / "vocab" / "cl.json.gz").write_bytes(b"garbage")
    vocab_store._cache.clear()
    with pytest.raises(VocabularyError, match="install cl again"):
        load_installed_vocabularies()


# -- reading with the vocabularies -----------------------------------------------------------


def test_the_reader_names_unlisted_entities_by_their_vocabulary_ids(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    from minemig.models import AbstractSection, Article
    from minemig.nlp import build_reader
    from minemig.topic import load_topic

    root = tmp_path_factory.mktemp("reading")
    for name in ("hgnc", "cl", "doid"):
        install_file(release(root / "releases", name), root / "data")
    topic = load_topic("migrasome")
    text = (
        "Knockdown of YAP65 abolished migrasome formation. "
        "Migrasomes carried catalase (CAT) to recipient cells. "
        "Urinary migrasomes were elevated in patients with type 2 diabetes."
    )
    article = Article(pmid="1", title="", abstract_sections=(AbstractSection(text),))

    def read(**options: object) -> tuple[str, set[tuple[str, str, bool]]]:
        reader = build_reader(topic.gazetteer_files, topic.abbreviation_files, "none", **options)
        (_, found) = next(reader.read([article]))
        return reader.version, {(f.category, f.entity_id, f.unlisted) for f in found}

    plain_version, plain = read()
    vocab_version, with_vocab = read(vocabulary_dir=root / "data")
    assert ("biogenesis", "YAP65", True) in plain
    assert ("biogenesis", "YAP1", True) in with_vocab  # the alias named by its approved symbol
    assert ("cargo", "CAT", True) in with_vocab  # a guarded symbol its definition supports
    # the vocabulary's more specific term wins over the gazetteer's term inside it
    assert ("disease", "DOID:9351", False) in plain
    assert ("disease", "DOID:9352", True) in with_vocab
    assert ("disease", "DOID:9351", False) not in with_vocab
    assert "+vocab." not in plain_version
    assert vocab_version.startswith(plain_version + "+vocab.")

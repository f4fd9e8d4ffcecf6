"""Download vocabulary releases from their official addresses, then install them.

The transport follows the E-utilities client's rules (:mod:`minemig.fetch`): a timeout on
every request, a bounded number of tries, full-jitter exponential backoff between them that
honours ``Retry-After`` (read with the client's own parser), 429 and 5xx and broken
connections retried, any other answer an error at once, and one clear line when the host
cannot be reached. Bodies are streamed to a temporary file beside the installed
vocabularies (GO basic is some 30 MB) and checked against ``Content-Length``.
``MINEMIG_VOCAB_URL_<NAME>`` (e.g. ``MINEMIG_VOCAB_URL_HGNC``) replaces an address, for
mirrors and tests.
"""

from __future__ import annotations

import logging
import os
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import requests
from requests.adapters import HTTPAdapter

from minemig import __version__
from minemig.errors import VocabularyError
from minemig.fetch import retry_after_seconds
from minemig.vocab.store import VocabularyInfo, install_file, vocab_dir

log = logging.getLogger("minemig")

URLS = {
    "hgnc": "https://storage.googleapis.com/public-download-files/hgnc/tsv/tsv/hgnc_complete_set.txt",
    "go": "https://purl.obolibrary.org/obo/go/go-basic.obo",
    "cl": "https://purl.obolibrary.org/obo/cl/cl-basic.obo",
    "doid": "https://purl.obolibrary.org/obo/doid.obo",
}
TIMEOUT = (10.0, 120.0)  # connect, read (between bytes)
MAX_TRIES = 5
BACKOFF_BASE = 1.0
BACKOFF_CAP = 60.0
CHUNK = 1 << 20

# What the retries sleep with; tests replace it.
sleep: Callable[[float], None] = time.sleep


def vocabulary_url(name: str) -> str:
    """The address ``name`` is downloaded from: the environment's, else the official one."""
    if name not in URLS:
        raise VocabularyError(f"unknown vocabulary {name!r}; choose from {', '.join(URLS)}")
    return os.environ.get(f"MINEMIG_VOCAB_URL_{name.upper()}") or URLS[name]


def fetch_vocabulary(name: str, data_dir: Path | None = None) -> VocabularyInfo:
    """Download the current release of ``name`` (hgnc, go, cl, doid) and install it."""
    url = vocabulary_url(name)
    directory = vocab_dir(data_dir)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{name}.download.", dir=directory)
    except OSError as exc:
        raise VocabularyError(f"cannot write to {directory}: {exc.strerror or exc}") from None
    os.close(handle)
    target = Path(temporary)
    try:
        download(url, target, label=name)
        return install_file(target, data_dir, origin=url, expected=name)
    finally:
        target.unlink(missing_ok=True)


def download(url: str, target: Path, *, label: str) -> None:
    """Stream ``url`` into ``target``, with retries; VocabularyError when it cannot."""
    started, problem = time.monotonic(), ""
    rng = random.Random()
    with requests.Session() as session:
        adapter = HTTPAdapter(max_retries=0)  # the retries are ours, with backoff
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        session.headers["User-Agent"] = f"minemig/{__version__}"
        for attempt in range(1, MAX_TRIES + 1):
            retry_after: float | None = None
            try:
                with session.get(url, stream=True, timeout=TIMEOUT) as response:
                    status = response.status_code
                    if status == 429 or status >= 500:
                        problem = f"HTTP {status}"
                        if status in (429, 503):
                            retry_after = retry_after_seconds(response.headers.get("Retry-After"))
                    elif status != 200:
                        raise VocabularyError(
                            f"cannot download {label} from {url}: HTTP {status}"
                            f" {response.reason or ''}".rstrip()
                        )
                    else:
                        problem = _save_body(response, target)
                        if not problem:
                            return
            except requests.ConnectTimeout:
                problem = f"could not connect within {TIMEOUT[0]:g} s"
            except requests.Timeout:
                problem = f"no data for {TIMEOUT[1]:g} s"
            except (
                requests.ConnectionError,
                requests.exceptions.ChunkedEncodingError,
                requests.exceptions.ContentDecodingError,
            ) as exc:
                problem = f"connection failed: {_reason(exc)}"
            except requests.RequestException as exc:
                raise VocabularyError(
                    f"cannot download {label} from {url}: {_reason(exc)}"
                ) from None
            except OSError as exc:
                raise VocabularyError(f"cannot write {target}: {exc.strerror or exc}") from None
            if attempt < MAX_TRIES:
                delay = retry_after
                if delay is None:
                    delay = rng.uniform(0.0, min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (attempt - 1)))
                log.info(
                    "%s: %s; retry %d of %d in %.1f s", url, problem, attempt, MAX_TRIES - 1, delay
                )
                sleep(delay)
    elapsed = time.monotonic() - started
    raise VocabularyError(
        f"cannot download {label} from {url}: {problem} (gave up after {MAX_TRIES} tries in"
        f" {elapsed:.1f} s); without internet, download the release file elsewhere and run"
        " `minemig vocab install FILE`"
    )


def _save_body(response: requests.Response, target: Path) -> str:
    """Write the body to ``target``; a problem to retry for, or '' when it is complete."""
    expected = response.headers.get("Content-Length")
    received = 0
    with target.open("wb") as out:
        for chunk in response.iter_content(CHUNK):
            out.write(chunk)
        received = response.raw.tell()  # bytes on the wire, as Content-Length counts them
    if expected and expected.isdigit() and received < int(expected):
        return f"the body stopped after {received:,} of {int(expected):,} bytes"
    if target.stat().st_size == 0:
        return "empty answer"
    return ""


def _reason(exc: BaseException) -> str:
    # requests wraps urllib3's errors, whose text repeats the URL; the innermost says why.
    while True:
        inner = getattr(exc, "reason", None) or (exc.args[0] if exc.args else None)
        if not isinstance(inner, BaseException) or inner is exc:
            text = " ".join(f"{type(exc).__name__}: {exc}".split())
            return text if len(text) <= 200 else text[:199] + "…"
        exc = inner

"""A loopback NCBI E-utilities server for tests: esearch, efetch and epost on 127.0.0.1.

It behaves like PubMed where the client depends on it: a mutable corpus of records with entry
dates, a history server (``WebEnv``/``query_key``), PubMed's 9,999-record ceiling for esearch and
its history, NCBI's error documents, and a queue of scripted faults per endpoint that are served,
in order, before normal service resumes. Every request is logged with its parameters (the API key
included, so tests can check it was sent). Typical use::

    server.add(Record("101", title="Migrasomes in zebrafish", entrez_date=date(2024, 5, 2)))
    server.map_term("migrasome[tiab]", ["101"])          # or rely on word matching
    server.inject("efetch", Fault.status(503, retry_after=1), Fault.truncated())
    ...
    assert [r.params["retstart"] for r in server.requests("efetch")] == ["0", "0", "0"]
"""

from __future__ import annotations

import contextlib
import json
import re
import secrets
import socket
import struct
import threading
import time
import traceback
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from xml.sax.saxutils import escape

import pubmed_xml

ESEARCH_CAP = 9999  # PubMed's esearch and its history serve at most this many ids per query
EFETCH_MAX = 10000
ENDPOINTS = ("esearch", "efetch", "epost")

ESEARCH_DOCTYPE = (
    '<!DOCTYPE eSearchResult PUBLIC "-//NLM//DTD esearch 20060628//EN" '
    '"https://eutils.ncbi.nlm.nih.gov/eutils/dtd/20060628/esearch.dtd">'
)
EPOST_DOCTYPE = (
    '<!DOCTYPE ePostResult PUBLIC "-//NLM//DTD epost 20090526//EN" '
    '"https://eutils.ncbi.nlm.nih.gov/eutils/dtd/20090526/epost.dtd">'
)
EFETCH_DOCTYPE = (
    '<!DOCTYPE eEfetchResult PUBLIC "-//NLM//DTD efetch 20131226//EN" '
    '"https://eutils.ncbi.nlm.nih.gov/eutils/dtd/20131226/efetch.dtd">'
)
XML_TYPE = "text/xml; charset=UTF-8"
BOOLEAN_WORDS = {"and", "or", "not"}


@dataclass(frozen=True)
class Fault:
    """One scripted answer; build them with the class methods."""

    kind: str
    code: int = 200
    retry_after: str | None = None
    seconds: float = 0.0
    message: str = ""
    body: bytes = b""
    content_type: str = "text/html"
    honest_length: bool = False

    @classmethod
    def status(
        cls, code: int, *, retry_after: float | str | None = None, body: bytes | None = None
    ) -> Fault:
        """An HTTP error status; 429 carries NCBI's JSON rate-limit body, others a gateway page."""
        if body is None and code == 429:
            return cls.json_rate_limit(code=429, retry_after=retry_after)
        if body is None:
            body = f"<html><body><h1>{code} Error</h1></body></html>".encode()
        after = None if retry_after is None else str(retry_after)
        return cls("status", code=code, retry_after=after, body=body)

    @classmethod
    def slow(cls, seconds: float) -> Fault:
        """Wait ``seconds`` before answering normally (set it above the client's read timeout)."""
        return cls("slow", seconds=seconds)

    @classmethod
    def truncated(cls, *, honest_length: bool = False) -> Fault:
        """Send half of the normal body, then close. By default Content-Length announces the
        whole body (a dropped connection); ``honest_length`` announces only what is sent."""
        return cls("truncated", honest_length=honest_length)

    @classmethod
    def empty(cls) -> Fault:
        """HTTP 200 with an empty body."""
        return cls("empty")

    @classmethod
    def error_in_200(cls, message: str) -> Fault:
        """HTTP 200 with the endpoint's result document holding only ``<ERROR>message</ERROR>``."""
        return cls("error", message=message)

    @classmethod
    def json_rate_limit(cls, *, code: int = 200, retry_after: float | str | None = None) -> Fault:
        """NCBI's JSON rate-limit answer, which it sends even when XML was asked for."""
        body = json.dumps(
            {"error": "API rate limit exceeded", "api-key": "127.0.0.1", "count": "4", "limit": "3"}
        ).encode()
        after = None if retry_after is None else str(retry_after)
        return cls("json", code=code, retry_after=after, body=body, content_type="application/json")

    @classmethod
    def reset(cls) -> Fault:
        """Read the request, then reset the connection without answering."""
        return cls("reset")

    @classmethod
    def expired_history(cls) -> Fault:
        """Expire the WebEnv this request names, then answer as NCBI does for a lost history."""
        return cls("expire")

    @classmethod
    def respond(
        cls, code: int, body: bytes, *, content_type: str = XML_TYPE, retry_after: str | None = None
    ) -> Fault:
        """Any status and body, for shapes the other helpers do not cover."""
        return cls(
            "respond", code=code, body=body, content_type=content_type, retry_after=retry_after
        )


@dataclass(frozen=True)
class LoggedRequest:
    """What the server received: ``time`` is ``time.monotonic()`` when the request arrived."""

    time: float
    method: str
    endpoint: str
    params: dict[str, str]
    fault: str  # the fault kind served, "" for normal service


@dataclass(frozen=True)
class StoredRecord:
    pmid: str
    entrez_date: date
    xml: str
    text: str  # lower-cased searchable text


def _parse_date(value: str, *, end: bool) -> date | None:
    match = re.fullmatch(r"(\d{4})(?:[/-](\d{1,2}))?(?:[/-](\d{1,2}))?", value.strip())
    if not match:
        return None
    year, month, day = (int(part) if part else 0 for part in match.groups())
    try:
        first = date(year, month or 1, day or 1)
    except ValueError:
        return None
    if not end or day:
        return first
    if not month:
        return date(year, 12, 31)
    return date.fromordinal(date(year + month // 12, month % 12 + 1, 1).toordinal() - 1)


def term_words(term: str) -> list[str]:
    """The words the default matcher requires: field tags and boolean operators dropped."""
    words = re.findall(r"\w+", re.sub(r"\[[^\]]*\]", " ", term.lower()))
    return [word for word in words if word not in BOOLEAN_WORDS]


def word_matcher(term: str, record: StoredRecord) -> bool:
    """Default matching: every word of the term occurs in the title or abstract (any case)."""
    words = term_words(term)
    return bool(words) and all(word in record.text for word in words)


class EutilsServer:
    """The server and its state; start with :meth:`start` (or ``with``), stop with :meth:`stop`."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._records: dict[str, StoredRecord] = {}
        self._term_pmids: dict[str, list[str]] = {}
        self._notes: dict[str, tuple[tuple[tuple[str, str], ...], ...]] = {}
        self._translations: dict[str, str] = {}
        self._history: dict[str, dict[str, list[str]]] = {}
        self._faults: dict[str, deque[Fault]] = defaultdict(deque)
        self._log: list[LoggedRequest] = []
        self._connections: set[socket.socket] = set()
        self._stopping = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.matcher: Callable[[str, StoredRecord], bool] = word_matcher
        self.errors: list[str] = []  # tracebacks of the server's own failures

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> EutilsServer:
        self._httpd = _HTTPServer(("127.0.0.1", 0), _Handler, self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and cut open connections, so no handler outlives the test."""
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        with self._lock:
            for conn in list(self._connections):
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> EutilsServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Base URL to put in ``MINEMIG_EUTILS_URL``."""
        assert self._httpd is not None, "server not started"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/entrez/eutils/"

    # -- corpus ----------------------------------------------------------------------------

    def add(self, *records: pubmed_xml.Record) -> None:
        """Add records, or replace those with the same PMID (a revised version)."""
        for record in records:
            self.add_fragment(
                record.pmid, record.entrez_date, pubmed_xml.article_xml(record), record.text
            )

    def add_fragment(self, pmid: str, entrez_date: date, xml: str, text: str = "") -> None:
        """Add one ready-made ``<PubmedArticle>`` fragment (fast path for big corpora)."""
        with self._lock:
            self._records[pmid] = StoredRecord(pmid, entrez_date, xml, text.lower())

    def remove(self, *pmids: str) -> None:
        with self._lock:
            for pmid in pmids:
                self._records.pop(pmid, None)

    @property
    def pmids(self) -> list[str]:
        with self._lock:
            return list(self._records)

    def map_term(self, term: str, pmids: Iterable[str]) -> None:
        """Make ``term`` match exactly these PMIDs (those still in the corpus)."""
        with self._lock:
            self._term_pmids[term] = list(pmids)

    def annotate(
        self,
        term: str,
        *,
        errors: Sequence[tuple[str, str]] = (),
        warnings: Sequence[tuple[str, str]] = (),
        translation: str | None = None,
    ) -> None:
        """Have esearch for ``term`` report an ErrorList/WarningList and a QueryTranslation.

        ``errors`` are (tag, text) pairs such as ("PhraseNotFound", "abcXYZ"); ``warnings``
        such as ("QuotedPhraseNotFound", '"foo bar"') or ("OutputMessage", "...").
        """
        with self._lock:
            self._notes[term] = (tuple(errors), tuple(warnings))
            if translation is not None:
                self._translations[term] = translation

    # -- faults, history, log --------------------------------------------------------------

    def inject(self, endpoint: str, *faults: Fault) -> None:
        """Queue faults for ``endpoint``; each is used once, in order, before normal service."""
        if endpoint not in ENDPOINTS:
            raise ValueError(f"unknown endpoint {endpoint!r}; use one of {ENDPOINTS}")
        with self._lock:
            self._faults[endpoint].extend(faults)

    def pending(self, endpoint: str) -> int:
        """How many injected faults for ``endpoint`` have not been served yet."""
        with self._lock:
            return len(self._faults[endpoint])

    def expire_history(self, webenv: str | None = None) -> None:
        """Forget one WebEnv, or all of them, as NCBI does after a while."""
        with self._lock:
            if webenv is None:
                self._history.clear()
            else:
                self._history.pop(webenv, None)

    def requests(self, endpoint: str | None = None) -> list[LoggedRequest]:
        """The request log, oldest first, optionally for one endpoint."""
        with self._lock:
            return [r for r in self._log if endpoint is None or r.endpoint == endpoint]

    def clear_log(self) -> None:
        with self._lock:
            self._log.clear()

    # -- service ---------------------------------------------------------------------------

    def _next_fault(self, endpoint: str) -> Fault | None:
        with self._lock:
            queue = self._faults[endpoint]
            return queue.popleft() if queue else None

    def _record_request(self, entry: LoggedRequest) -> None:
        with self._lock:
            self._log.append(entry)

    def _store(self, webenv: str, pmids: list[str]) -> tuple[str, str]:
        with self._lock:
            if webenv not in self._history:
                webenv = "MCID_" + secrets.token_hex(12)
                self._history[webenv] = {}
            entries = self._history[webenv]
            query_key = str(len(entries) + 1)
            entries[query_key] = pmids
            return webenv, query_key

    def serve(self, endpoint: str, params: dict[str, str]) -> tuple[int, str, bytes]:
        """Normal service: (status, content type, body)."""
        if params.get("db", "pubmed") != "pubmed":
            return _error_document(endpoint, f"Invalid db name specified: {params['db']}", 200)
        if endpoint == "esearch":
            return self._esearch(params)
        if endpoint == "efetch":
            return self._efetch(params)
        return self._epost(params)

    def _matching(self, term: str, lo: date | None, hi: date | None) -> list[str]:
        with self._lock:
            if term in self._term_pmids:
                found = [self._records[p] for p in self._term_pmids[term] if p in self._records]
            else:
                found = [r for r in self._records.values() if self.matcher(term, r)]
        if lo is not None and hi is not None:
            found = [r for r in found if lo <= r.entrez_date <= hi]
        # PubMed's default order: most recent first.
        found.sort(key=lambda r: (r.entrez_date, int(r.pmid) if r.pmid.isdigit() else 0))
        return [r.pmid for r in reversed(found)]

    def _esearch(self, params: dict[str, str]) -> tuple[int, str, bytes]:
        term = params.get("term", "")
        if not term.strip():
            return _error_document("esearch", "Empty term and query_key - nothing todo", 200)
        lo = hi = None
        if params.get("mindate") and params.get("maxdate"):  # NCBI needs both
            if params.get("datetype", "edat") != "edat":
                return _error_document("esearch", "loopback server filters on edat only", 200)
            lo = _parse_date(params["mindate"], end=False)
            hi = _parse_date(params["maxdate"], end=True)
            if lo is None or hi is None:
                return _error_document("esearch", "Invalid date format", 200)
        pmids = self._matching(term, lo, hi)
        count = len(pmids)
        retstart = int(params.get("retstart", "0"))
        retmax = int(params.get("retmax", "20"))
        with self._lock:
            errors, noted = self._notes.get(term, ((), ()))
            translation = self._translations.get(term) or " AND ".join(
                f'"{word}"[All Fields]' for word in term_words(term)
            )
        if lo is not None and hi is not None:
            translation = f"({translation}) AND {lo:%Y/%m/%d}:{hi:%Y/%m/%d}[Date - Entry]"
        warnings = list(noted)
        if retstart > ESEARCH_CAP - 1:
            if count > ESEARCH_CAP:
                return _error_document(
                    "esearch",
                    f"'retstart' cannot be larger than {ESEARCH_CAP - 1}. For PubMed, ESearch "
                    f"can only retrieve the first {ESEARCH_CAP:,} records matching the query.",
                    200,
                )
            warnings.append(("OutputMessage", "Restrictions achieved."))
        ids = pmids[retstart : min(retstart + retmax, ESEARCH_CAP)]
        if count == 0:
            warnings.append(("OutputMessage", "No items found."))
        history = ""
        if params.get("usehistory") == "y":
            webenv, query_key = self._store(params.get("WebEnv", ""), pmids[:ESEARCH_CAP])
            history = f"<QueryKey>{query_key}</QueryKey><WebEnv>{webenv}</WebEnv>"
        id_list = "<IdList>{}\n</IdList>".format("".join(f"\n<Id>{i}</Id>" for i in ids))
        body = (
            f"<eSearchResult><Count>{count}</Count><RetMax>{len(ids)}</RetMax>"
            f"<RetStart>{retstart}</RetStart>{history}{id_list if ids else '<IdList/>'}"
            f"<TranslationSet/><QueryTranslation>{escape(translation)}</QueryTranslation>"
            f"{_note_list('ErrorList', errors)}{_note_list('WarningList', warnings)}"
            "</eSearchResult>"
        )
        return 200, XML_TYPE, _document(ESEARCH_DOCTYPE, body)

    def _efetch(self, params: dict[str, str]) -> tuple[int, str, bytes]:
        if params.get("id"):
            pmids = [p.strip() for p in params["id"].split(",") if p.strip()]
        elif params.get("query_key"):
            query_key = params["query_key"]
            with self._lock:
                stored = self._history.get(params.get("WebEnv", ""), {}).get(query_key)
            if stored is None:
                return _error_document("efetch", f"Unable to obtain query #{query_key}", 400)
            retstart = int(params.get("retstart", "0"))
            retmax = min(int(params.get("retmax", "20")), EFETCH_MAX)
            if retstart >= len(stored):
                return _error_document(
                    "efetch",
                    f"Cannot retrieve history data: OUT OF RANGE. Parameter retstart={retstart} "
                    "+ 1 is greater than number of records available in history. "
                    f"History includes {len(stored)} IDs.",
                    400,
                )
            pmids = stored[retstart : retstart + retmax]
        else:
            return _error_document("efetch", "Neither query_key nor id specified", 400)
        with self._lock:  # records removed since the search are simply missing, as in PubMed
            fragments = [self._records[p].xml for p in pmids if p in self._records]
        return 200, XML_TYPE, pubmed_xml.article_set(fragments)

    def _epost(self, params: dict[str, str]) -> tuple[int, str, bytes]:
        pmids = [p.strip() for p in params.get("id", "").split(",") if p.strip()]
        if not pmids:
            return _error_document("epost", "Empty ID list; Nothing to store", 200)
        webenv, query_key = self._store(params.get("WebEnv", ""), pmids)
        body = (
            f"<ePostResult>\n\t<QueryKey>{query_key}</QueryKey>\n"
            f"\t<WebEnv>{webenv}</WebEnv>\n</ePostResult>"
        )
        return 200, XML_TYPE, _document(EPOST_DOCTYPE, body)


def _document(doctype: str, body: str) -> bytes:
    return f'<?xml version="1.0" encoding="UTF-8" ?>\n{doctype}\n{body}\n'.encode()


def _note_list(tag: str, notes: Iterable[tuple[str, str]]) -> str:
    items = "".join(f"<{kind}>{escape(text)}</{kind}>" for kind, text in notes)
    return f"<{tag}>{items}</{tag}>" if items else ""


def _error_document(endpoint: str, message: str, status: int) -> tuple[int, str, bytes]:
    error = f"<ERROR>{escape(message)}</ERROR>"
    if endpoint == "efetch":
        return (
            status,
            XML_TYPE,
            _document(EFETCH_DOCTYPE, f"<eFetchResult>\n\t{error}\n</eFetchResult>"),
        )
    if endpoint == "epost":
        return status, XML_TYPE, _document(EPOST_DOCTYPE, f"<ePostResult>\n\t{error}</ePostResult>")
    return (
        status,
        XML_TYPE,
        _document(ESEARCH_DOCTYPE, f"<eSearchResult>\n  {error}\n</eSearchResult>"),
    )


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: Any, app: EutilsServer) -> None:
        self.app = app
        super().__init__(address, handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (timeout, reset) is expected; anything else is a server bug.
        error = traceback.format_exc()
        if "ConnectionResetError" not in error and "BrokenPipeError" not in error:
            self.app.errors.append(error)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 10  # an idle keep-alive connection ends after this
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        with self.server.app._lock:
            self.server.app._connections.add(self.connection)

    def finish(self) -> None:
        with self.server.app._lock:
            self.server.app._connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def _handle(self, method: str) -> None:
        arrived = time.monotonic()
        app = self.server.app
        url = urlsplit(self.path)
        params = dict(parse_qsl(url.query, keep_blank_values=True))
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            params.update(parse_qsl(self.rfile.read(length).decode(), keep_blank_values=True))
        endpoint = url.path.rsplit("/", 1)[-1].removesuffix(".fcgi")
        if endpoint not in ENDPOINTS:
            self._send(404, "text/plain", b"not found")
            return
        fault = app._next_fault(endpoint)
        app._record_request(
            LoggedRequest(arrived, method, endpoint, params, fault.kind if fault else "")
        )
        try:
            self._answer(app, endpoint, params, fault)
        except OSError:
            self.close_connection = True  # the client went away (its timeout, our reset)
        except Exception:
            app.errors.append(traceback.format_exc())
            self._send(500, "text/plain", b"loopback server error")

    def _answer(
        self, app: EutilsServer, endpoint: str, params: dict[str, str], fault: Fault | None
    ) -> None:
        if fault is not None and fault.kind == "reset":
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
        elif fault is not None and fault.kind == "empty":
            self._send(200, XML_TYPE, b"")
        elif fault is not None and fault.kind == "error":
            self._send(*_error_document(endpoint, fault.message, 200))
        elif fault is not None and fault.kind in ("status", "json", "respond"):
            self._send(fault.code, fault.content_type, fault.body, retry_after=fault.retry_after)
        elif fault is not None and fault.kind == "slow" and app._stopping.wait(fault.seconds):
            self.close_connection = True  # the server is stopping: no answer at all
        else:  # normal service, possibly late, after losing the history, or cut short
            if fault is not None and fault.kind == "expire":
                app.expire_history(params.get("WebEnv", ""))
            status, content_type, body = app.serve(endpoint, params)
            if fault is not None and fault.kind == "truncated":
                cut = body[: len(body) // 2]
                announced = len(cut) if fault.honest_length else len(body)
                # Announce the close, as a real server does: a client that reused this
                # connection for its next request would meet a reset no test asked for.
                self._send(status, content_type, cut, length=announced, closing=True)
                self.close_connection = True
            else:
                self._send(status, content_type, body)

    def _send(
        self,
        status: int,
        content_type: str,
        body: bytes,
        *,
        length: int | None = None,
        retry_after: str | None = None,
        closing: bool = False,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        if retry_after is not None:
            self.send_header("Retry-After", retry_after)
        if closing:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

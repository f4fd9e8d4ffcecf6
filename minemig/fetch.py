"""Fetch PubMed records through NCBI E-utilities: esearch → history server → batched efetch.

* NCBI allows 3 requests a second (10 with an API key). One limiter serves the whole process
  and every attempt passes through it, retries included; hence our own retry loop, not urllib3's.
* Failures are frequent and mostly transient (429, 5xx, resets, timeouts, bodies cut short, a
  JSON rate-limit message in a 200): each request retries with full-jitter exponential backoff
  and honours ``Retry-After``. NCBI's error documents (``<ERROR>``, ``ErrorList``) are
  recognised, so an error is never read as "no records".
* PubMed esearch and its history serve only the first 9,999 records of a result. Larger results
  are split into entry-date windows that fit, and the records fetched are counted against the
  search counts: a shortfall is an error, never a silently smaller corpus.
* The small esearch/epost documents are read with ElementTree, not ``Bio.Entrez.read``, which
  always loads the DOCTYPE's DTD: it downloads any DTD Biopython does not bundle, refuses
  ``http://`` DTD addresses and cannot read a document without a DOCTYPE.
* The API key is sent with every request but never appears in logs, errors or reprs.

Records come back as raw XML bytes, for the caller to save before parsing. This module never
imports spaCy or the parser.
"""

from __future__ import annotations

import email.utils
import json
import logging
import math
import random
import re
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import TypeVar
from urllib.parse import quote_plus, urlencode

import requests
from requests.adapters import HTTPAdapter

from minemig import __version__
from minemig.errors import FetchError, UsageError
from minemig.settings import NcbiSettings

log = logging.getLogger(__name__)

ESEARCH_LIMIT = 9999  # records PubMed esearch (and its history) serves per search
MAX_BATCH = 10000  # efetch's retmax ceiling
DEFAULT_BATCH = 200
POST_ABOVE_IDS = 200  # NCBI asks for POST with long id lists...
POST_ABOVE_CHARS = 4000  # ...and some proxies refuse longer URLs
MAX_RETRY_AFTER = 120.0
EARLIEST = date(1800, 1, 1)  # where splitting starts when a search has no mindate

_SPACING = 1.1  # 10% slack on the limit, so jitter on the way to NCBI never breaks it
_RECORD_START = re.compile(rb"<Pubmed(?:Book)?Article[\s>]")
_ROOT_TAG = re.compile(rb"<([A-Za-z_][\w.:-]*)")
_EXPIRED = re.compile(
    r"unable to obtain query|invalid (query_key|webenv)|(webenv|history)\b.{0,40}expired", re.I
)
_TRANSIENT = re.compile(r"backend failed|temporar|try again|timed? ?out|unavailable", re.I)
_ABOUT_QUERY = re.compile(r"\bterm\b|query|syntax|phrase", re.I)
_DATE = re.compile(r"(\d{4})(?:[/-](\d{1,2}))?(?:[/-](\d{1,2}))?")

T = TypeVar("T")
Check = Callable[[requests.Response, bytes, str], T]


@dataclass(frozen=True)
class SearchResult:
    """One esearch: its count, its history handle and what NCBI said about the query.

    ``query_translation``, ``warnings`` and ``errors`` (``ErrorList`` entries such as
    ``PhraseNotFound: abcXYZ``) explain a run's results, so callers keep them with the run.
    """

    term: str
    count: int
    webenv: str
    query_key: str
    query_translation: str
    warnings: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()
    mindate: str = ""
    maxdate: str = ""

    @property
    def window(self) -> str:
        return f"{self.mindate}:{self.maxdate}" if self.mindate else "all"


@dataclass(frozen=True)
class FetchedBatch:
    """Raw efetch output: records ``retstart``… of one search window."""

    window: str
    retstart: int
    record_count: int
    xml: bytes


class HistoryExpiredError(FetchError):
    """NCBI no longer holds the WebEnv/query_key; running the search again renews it."""


class _Retry(Exception):
    def __init__(self, problem: str, retry_after: float | None = None) -> None:
        super().__init__(problem)
        self.problem, self.retry_after = problem, retry_after


class RateLimiter:
    """Spaces request starts across all threads. A caller reserves the next free slot under
    the lock and sleeps outside it, so waiting threads never hold the lock while they sleep."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._next = -math.inf

    def wait(self, interval: float) -> None:
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next)
            self._next = slot + interval
        if slot > now:
            time.sleep(slot - now)


RATE_LIMITER = RateLimiter()  # the one limiter of the process


_SECRETS: set[str] = set()  # API keys of the clients made so far


class _RedactFilter(logging.Filter):
    """Takes API keys out of urllib3's debug lines, which print whole request URLs."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = _redact(message, tuple(_SECRETS))
        if clean != message:
            record.msg, record.args = clean, ()
        return True


_URLLIB3_FILTER = _RedactFilter()
_email_warned = threading.Event()


def _redact(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***").replace(quote_plus(secret), "***")
    return text


def count_records(xml: bytes) -> int:
    """Records in an efetch body, counted by start tag without parsing the articles."""
    return len(_RECORD_START.findall(xml))


def _parse_date(value: str, *, end: bool) -> date:
    """``YYYY``, ``YYYY/MM`` or ``YYYY/MM/DD`` (or dashes) as the first or last day it means."""
    match = _DATE.fullmatch(value.strip())
    if not match:
        raise UsageError(f"date {value!r} is not YYYY, YYYY/MM or YYYY/MM/DD")
    year, month, day = (int(part) if part else 0 for part in match.groups())
    try:
        first = date(year, month or 1, day or 1)
    except ValueError:
        raise UsageError(f"date {value!r} does not exist") from None
    if not end or day:
        return first
    if not month:
        return date(year, 12, 31)
    return date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)


def _fmt(day: date) -> str:
    return f"{day.year:04d}/{day.month:02d}/{day.day:02d}"


def _latest() -> date:
    # NCBI dates entries in US Eastern time; a day's margin keeps today's records inside.
    return date.today() + timedelta(days=1)


def _date_range(mindate: str | None, maxdate: str | None) -> tuple[date, date] | None:
    """Both bounds or neither: NCBI ignores a lone mindate or maxdate."""
    if not mindate and not maxdate:
        return None
    lo = _parse_date(mindate, end=False) if mindate else EARLIEST
    hi = _parse_date(maxdate, end=True) if maxdate else _latest()
    if lo > hi:
        raise UsageError(f"mindate {_fmt(lo)} is after maxdate {_fmt(hi)}")
    return lo, hi


def _check_ids(pmids: Iterable[str]) -> list[str]:
    ids = [str(pmid).strip() for pmid in pmids]
    if not ids:
        raise UsageError("no PMIDs given")
    for pmid in ids:
        if not pmid.isdigit():
            raise UsageError(f"not a PMID: {pmid!r}")
    return ids


def retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` (seconds or an HTTP date) in seconds, capped; None when absent or bad."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        seconds = (when - datetime.now(timezone.utc)).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER) if math.isfinite(seconds) else None


def _describe(endpoint: str, params: dict[str, str]) -> str:
    """What was asked, for messages: never the key, the email or a long id list."""
    parts = [f"term={' '.join(params['term'].split())[:80]!r}"] if "term" in params else []
    parts += [
        f"{k}={params[k]}"
        for k in ("mindate", "maxdate", "query_key", "retstart", "retmax")
        if k in params
    ]
    if "id" in params:
        ids = params["id"].split(",")
        parts.append(f"id={ids[0]}" if len(ids) == 1 else f"{len(ids)} ids")
    return f"{endpoint} ({', '.join(parts)})"


class EutilsClient:
    """E-utilities over one HTTP session, with ``tool``, ``email`` and ``api_key`` on every request.

    ``timeout`` is (connect, read) seconds. ``max_tries`` bounds the attempts per request; between
    them the client sleeps ``Retry-After`` when the server sent one, else full jitter
    ``uniform(0, min(backoff_cap, backoff_base * 2**n))``. ``requests_per_second`` replaces
    NCBI's limit (3, or 10 with a key) for mirrors that allow more. ``sleep`` and ``clock``
    serve the backoff and its reports (tests pass fakes); the process-wide rate limiter always
    runs on real time. One client per thread; the limiter is shared by all.
    """

    def __init__(
        self,
        settings: NcbiSettings,
        *,
        timeout: float | tuple[float, float] = (10.0, 120.0),
        max_tries: int = 6,
        backoff_base: float = 1.0,
        backoff_cap: float = 60.0,
        requests_per_second: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_tries < 1 or (requests_per_second is not None and requests_per_second <= 0):
            raise ValueError("max_tries and requests_per_second must be positive")
        self.settings = settings
        self._timeout = timeout if isinstance(timeout, tuple) else (timeout, timeout)
        self._max_tries, self._backoff = max_tries, (backoff_base, backoff_cap)
        self._sleep, self._clock, self._random = sleep, clock, random.Random()
        self._interval = _SPACING / (requests_per_second or (10.0 if settings.api_key else 3.0))
        self._session = requests.Session()
        adapter = HTTPAdapter(max_retries=0)  # retries are ours, so each one is rate-limited
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._session.headers["User-Agent"] = f"minemig/{__version__}"
        if settings.api_key:
            _SECRETS.add(settings.api_key)
            logging.getLogger("urllib3.connectionpool").addFilter(_URLLIB3_FILTER)  # idempotent
        if not settings.email and not _email_warned.is_set():
            _email_warned.set()
            log.warning(
                "NCBI_EMAIL is not set: NCBI asks E-utilities users for a contact address, "
                "to write to before blocking a misbehaving tool; set NCBI_EMAIL"
            )

    def __repr__(self) -> str:
        return f"EutilsClient({self.settings!r})"

    def __enter__(self) -> EutilsClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._session.close()

    def esearch(
        self,
        term: str,
        *,
        mindate: str | None = None,
        maxdate: str | None = None,
        datetype: str = "edat",
        retmax: int = 0,
    ) -> SearchResult:
        """Run ``term`` on PubMed, keeping the result on the history server (``usehistory=y``)."""
        if not term.strip():
            raise UsageError("the PubMed query is empty")
        params = {"db": "pubmed", "term": term, "usehistory": "y", "retmax": str(retmax)}
        if window := _date_range(mindate, maxdate):
            params.update(datetype=datetype, mindate=_fmt(window[0]), maxdate=_fmt(window[1]))

        def secret_free(text: str) -> str:
            # What the server says is logged and kept with the run: never the key, whatever
            # the server repeats.
            return _redact(text, [self.settings.api_key])

        def check(response: requests.Response, body: bytes, what: str) -> SearchResult:
            root = self._result(response, body, what, "eSearchResult")
            count, webenv = root.findtext("Count", "").strip(), root.findtext("WebEnv", "").strip()
            if not count.isdigit():
                raise _Retry("esearch answer without a Count")
            if int(count) and not webenv:
                raise FetchError(f"{what}: the answer has no WebEnv to fetch the results from")
            return SearchResult(
                term=term,
                count=int(count),
                webenv=webenv,
                query_key=root.findtext("QueryKey", "").strip(),
                query_translation=secret_free(root.findtext("QueryTranslation", "").strip()),
                warnings=tuple(
                    secret_free(f"{e.tag}: {e.text or ''}") for e in root.findall("WarningList/*")
                ),
                errors=tuple(
                    secret_free(f"{e.tag}: {e.text or ''}") for e in root.findall("ErrorList/*")
                ),
                mindate=params.get("mindate", ""),
                maxdate=params.get("maxdate", ""),
            )

        return self._call("esearch", params, check)

    def efetch(
        self,
        webenv: str,
        query_key: str,
        *,
        retstart: int = 0,
        retmax: int = DEFAULT_BATCH,
        expected: int | None = None,
    ) -> bytes:
        """Records ``retstart``… of a history entry as a ``PubmedArticleSet``. With ``expected``,
        a batch holding fewer records is retried like a failure, then is a FetchError."""
        if not 1 <= retmax <= MAX_BATCH:
            raise UsageError(f"retmax must be between 1 and {MAX_BATCH}")
        params = {"db": "pubmed", "WebEnv": webenv, "query_key": query_key}
        params.update(retstart=str(retstart), retmax=str(retmax), retmode="xml")
        return self._call("efetch", params, self._article_set_check(expected))

    def efetch_ids(self, pmids: Iterable[str]) -> bytes:
        """These PMIDs as a ``PubmedArticleSet``; PubMed leaves out ids it does not hold."""
        ids = _check_ids(pmids)
        if len(ids) > MAX_BATCH:
            raise UsageError(f"at most {MAX_BATCH} PMIDs per efetch")
        params = {"db": "pubmed", "id": ",".join(ids), "retmode": "xml"}
        return self._call("efetch", params, self._article_set_check(None))

    def epost(self, pmids: Iterable[str]) -> tuple[str, str]:
        """Store PMIDs on the history server; returns (WebEnv, query_key) for :meth:`efetch`."""

        def check(response: requests.Response, body: bytes, what: str) -> tuple[str, str]:
            root = self._result(response, body, what, "ePostResult")
            webenv, key = root.findtext("WebEnv", "").strip(), root.findtext("QueryKey", "").strip()
            if not webenv or not key:
                raise _Retry("epost answer without WebEnv and QueryKey")
            return webenv, key

        return self._call("epost", {"db": "pubmed", "id": ",".join(_check_ids(pmids))}, check)

    def _call(self, endpoint: str, params: dict[str, str], check: Check[T]) -> T:
        """Send with rate limiting and retries; ``check`` returns the answer or raises _Retry."""
        what = _describe(endpoint, params)
        sent = dict(params)
        for name in ("tool", "email", "api_key"):
            if value := getattr(self.settings, name):
                sent[name] = value
        url = f"{self.settings.base_url}{endpoint}.fcgi"
        post = len(params.get("id", "").split(",")) > POST_ABOVE_IDS
        post = post or len(urlencode(sent)) > POST_ABOVE_CHARS
        started, problem = self._clock(), ""
        for attempt in range(1, self._max_tries + 1):
            RATE_LIMITER.wait(self._interval)
            retry_after = None
            try:
                if post:
                    response = self._session.post(url, data=sent, timeout=self._timeout)
                else:
                    response = self._session.get(url, params=sent, timeout=self._timeout)
                body = response.content
            except requests.ConnectTimeout:
                problem = f"could not connect within {self._timeout[0]} s"
            except requests.Timeout:
                problem = f"no answer within {self._timeout[1]} s"
            except (
                requests.ConnectionError,
                requests.exceptions.ChunkedEncodingError,
                requests.exceptions.ContentDecodingError,
            ) as exc:
                problem = f"connection failed: {self._reason(exc)}"
            except requests.RequestException as exc:
                raise FetchError(f"{what}: {self._reason(exc)}") from None
            else:
                try:
                    return check(response, body, what)
                except _Retry as retry:
                    problem, retry_after = retry.problem, retry.retry_after
            if attempt < self._max_tries:
                base, cap = self._backoff
                delay = retry_after
                if delay is None:
                    delay = self._random.uniform(0.0, min(cap, base * 2 ** (attempt - 1)))
                # A retry that then succeeds is routine: cron stays silent (see --debug).
                log.info(
                    "%s: %s; retry %d of %d in %.1f s",
                    what,
                    problem,
                    attempt,
                    self._max_tries - 1,
                    delay,
                )
                self._sleep(delay)
        elapsed = self._clock() - started
        raise FetchError(
            f"{what}: {problem} (gave up after {self._max_tries} tries in {elapsed:.1f} s)"
        )

    def _reason(self, exc: BaseException) -> str:
        # requests wraps urllib3's errors, whose text repeats the URL; the innermost says why.
        while True:
            inner = getattr(exc, "reason", None) or (exc.args[0] if exc.args else None)
            if not isinstance(inner, BaseException) or inner is exc:
                return self._one_line(f"{type(exc).__name__}: {exc}")
            exc = inner

    def _one_line(self, text: str, limit: int = 200) -> str:
        text = " ".join(_redact(text, [self.settings.api_key]).split())
        return text if len(text) <= limit else text[: limit - 1] + "…"

    def _examine(self, response: requests.Response, body: bytes, what: str) -> ET.Element | None:
        """Sort out what any utility can get back: raises _Retry or an error, or returns the
        root of a small result document, or None for a ``PubmedArticleSet`` (left unparsed)."""
        status = response.status_code
        retry_after = retry_after_seconds(response.headers.get("Retry-After"))
        if status == 429 or status >= 500:
            raise _Retry(f"HTTP {status}", retry_after if status in (429, 503) else None)
        text = body.strip()
        if not text and status == 200:
            raise _Retry("empty answer")
        if text.startswith(b"{"):  # NCBI sends some errors as JSON whatever was asked for
            try:
                message = str(json.loads(text).get("error") or text.decode("utf-8", "replace"))
            except (ValueError, AttributeError):
                raise _Retry(f"unreadable answer {self._one_line(repr(text[:80]))}") from None
            if "rate limit" in message.lower():
                raise _Retry(f"NCBI: {message}", retry_after)
            raise FetchError(f"{what}: NCBI: {self._one_line(message)}")
        head = _ROOT_TAG.search(body[:4096])
        if status == 200 and head and head.group(1) == b"PubmedArticleSet":
            return None
        root: ET.Element | None = None
        try:
            root = ET.fromstring(body)
        except ET.ParseError as exc:
            if status == 200:
                raise _Retry(f"incomplete or unreadable XML ({exc})") from None
        # An empty <ERROR/> (espell sends one) is not an error.
        found = (
            [] if root is None else [" ".join((e.text or "").split()) for e in root.iter("ERROR")]
        )
        if message := self._one_line("; ".join(text for text in found if text)):
            if _EXPIRED.search(message):
                raise HistoryExpiredError(f"{what}: NCBI: {message}")
            if _TRANSIENT.search(message):
                raise _Retry(f"NCBI: {message}")
            if root is not None and root.tag == "eSearchResult" and _ABOUT_QUERY.search(message):
                raise UsageError(f"{what}: PubMed cannot run this query: {message}")
            raise FetchError(f"{what}: NCBI: {message}")
        if status != 200 or root is None:
            snippet = self._one_line(body[:200].decode("utf-8", "replace"), 120)
            raise FetchError(f"{what}: HTTP {status}: {snippet}")
        return root

    def _result(self, response: requests.Response, body: bytes, what: str, tag: str) -> ET.Element:
        root = self._examine(response, body, what)
        if root is None or root.tag != tag:
            raise _Retry(f"unexpected answer instead of <{tag}>")
        return root

    def _article_set_check(self, expected: int | None) -> Check[bytes]:
        def check(response: requests.Response, body: bytes, what: str) -> bytes:
            root = self._examine(response, body, what)
            if root is not None:
                raise _Retry(f"not PubMed XML but <{root.tag}>")
            if not body.rstrip().endswith((b"</PubmedArticleSet>", b"<PubmedArticleSet/>")):
                raise _Retry("truncated answer (no closing </PubmedArticleSet>)")
            found = count_records(body)
            if expected is not None and found < expected:
                raise _Retry(f"short batch: {found} of {expected} records")
            return body

        return check


class RecordFetch:
    """Every record a PubMed query matches, as raw efetch batches; iterate it once.

    ``mindate``/``maxdate`` (YYYY, YYYY/MM or YYYY/MM/DD) limit by ``datetype`` (entry date by
    default); ``max_records`` caps what is fetched. Arguments are checked on construction,
    before any request. ``searches`` lists every esearch run: the whole query first, then the
    date windows and renewed searches. ``expected`` (known once the searches ran) is how many
    records the fetch delivers, ``fetched`` how many it has delivered so far.
    """

    def __init__(
        self,
        client: EutilsClient,
        term: str,
        *,
        mindate: str | None = None,
        maxdate: str | None = None,
        datetype: str = "edat",
        max_records: int | None = None,
        batch_size: int = DEFAULT_BATCH,
    ) -> None:
        if not term.strip():
            raise UsageError("the PubMed query is empty")
        if not 1 <= batch_size <= MAX_BATCH:
            raise UsageError(f"the batch size must be between 1 and {MAX_BATCH}")
        if max_records is not None and max_records < 0:
            raise UsageError("the maximum number of records cannot be negative")
        self.term, self._client, self._datetype = term, client, datetype
        self._range = _date_range(mindate, maxdate)
        self._max_records, self._batch_size = max_records, batch_size
        self.searches: list[SearchResult] = []
        self.expected: int | None = None
        self.fetched = 0
        self._started = False

    def __iter__(self) -> Iterator[FetchedBatch]:
        if self._started:
            raise RuntimeError("a RecordFetch can be iterated only once")
        self._started = True
        return self._run()

    def _search(self, mindate: str, maxdate: str) -> SearchResult:
        result = self._client.esearch(
            self.term, mindate=mindate or None, maxdate=maxdate or None, datetype=self._datetype
        )
        self.searches.append(result)
        for error in result.errors:
            log.warning("esearch %r (%s): %s", self.term, result.window, error)
        return result

    def _run(self) -> Iterator[FetchedBatch]:
        lo, hi = self._range or (EARLIEST, _latest())
        whole = self._search(*((_fmt(lo), _fmt(hi)) if self._range else ("", "")))
        cap = whole.count if self._max_records is None else self._max_records
        windows = [whole]
        if min(whole.count, cap) > ESEARCH_LIMIT:
            windows = self._split(lo, hi, whole)
            held = sum(window.count for window in windows)
            if held < whole.count:
                raise FetchError(
                    f"the date windows of {self.term!r} hold {held:,} of the {whole.count:,} "
                    f"records the search found: some have dates outside {_fmt(lo)}–{_fmt(hi)}"
                )
        self.expected = min(sum(window.count for window in windows), cap)
        for window in windows:
            if self.fetched >= self.expected:
                break
            yield from self._fetch_window(window, self.expected - self.fetched)
        if self.fetched < self.expected:
            raise FetchError(
                f"fetched {self.fetched:,} of the {self.expected:,} records {self.term!r} matched"
            )

    def _split(self, lo: date, hi: date, search: SearchResult) -> list[SearchResult]:
        """Date windows, newest first, each within esearch's 9,999-record ceiling."""
        if search.count <= ESEARCH_LIMIT:
            return [search] if search.count else []
        if lo >= hi:
            raise FetchError(
                f"{search.count:,} records of {self.term!r} have {self._datetype} {_fmt(lo)}; "
                f"PubMed serves at most {ESEARCH_LIMIT:,} per search, so narrow the query"
            )
        mid = lo + (hi - lo) // 2
        after = mid + timedelta(days=1)
        newer, older = self._search(_fmt(after), _fmt(hi)), self._search(_fmt(lo), _fmt(mid))
        return self._split(after, hi, newer) + self._split(lo, mid, older)

    def _fetch_window(self, search: SearchResult, budget: int) -> Iterator[FetchedBatch]:
        """One window's batches. A lost history is searched again, once per batch, and the
        fetch resumes at the same ``retstart`` if the window still holds as many records."""
        retstart, renewed_at = 0, -1
        while retstart < (available := min(search.count, budget)):
            retmax = min(self._batch_size, available - retstart)
            try:
                xml = self._client.efetch(
                    search.webenv,
                    search.query_key,
                    retstart=retstart,
                    retmax=retmax,
                    expected=retmax,
                )
            except HistoryExpiredError:
                if renewed_at == retstart:
                    raise
                renewed_at = retstart
                renewed = self._search(search.mindate, search.maxdate)
                if renewed.count > ESEARCH_LIMIT:
                    raise FetchError(
                        f"window {search.window} of {self.term!r} grew past {ESEARCH_LIMIT:,} "
                        "records while it was fetched; run again"
                    ) from None
                if renewed.count != search.count:
                    # Positions in the result moved: resuming at retstart would skip some
                    # records and repeat others, silently. A new run fetches the window whole.
                    raise FetchError(
                        f"window {search.window} of {self.term!r} went from {search.count:,} to"
                        f" {renewed.count:,} records while its expired history was renewed;"
                        " run again"
                    ) from None
                search = renewed
                continue
            found = count_records(xml)
            self.fetched += found
            yield FetchedBatch(search.window, retstart, found, xml)
            retstart += retmax


# The entry point reads as a verb; what it returns is the fetch, with its searches and counts.
fetch_records = RecordFetch

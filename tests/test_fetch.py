"""The E-utilities client against the loopback server: requests, retries, limits, splitting."""

from __future__ import annotations

import email.utils
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from functools import cache
from typing import Any

import pytest
import requests
from eutils_server import EutilsServer, Fault
from pubmed_xml import Record, article_xml

from minemig import fetch
from minemig.errors import FetchError, UsageError
from minemig.fetch import (
    EutilsClient,
    HistoryExpiredError,
    count_records,
    fetch_records,
    retry_after_seconds,
)
from minemig.settings import NcbiSettings

API_KEY = "0123456789abcdef0123456789abcdef0123"
EMAIL = "curator@example.org"
PMID = re.compile(rb'<PMID Version="\d+">(\d+)</PMID>')
FAST = 500.0  # requests per second where the rate limit is not what a test is about


class Sleeps(list[float]):
    """A fake sleep that records the delays it was asked for."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def make_client(
    eutils_server: EutilsServer, monkeypatch: pytest.MonkeyPatch, sleeps: Sleeps
) -> Iterator[Callable[..., EutilsClient]]:
    """Clients configured from the environment, as the CLI builds them, closed after the test."""
    clients: list[EutilsClient] = []

    def make(*, api_key: str = API_KEY, email: str = EMAIL, **options: Any) -> EutilsClient:
        monkeypatch.setenv("NCBI_API_KEY", api_key)
        monkeypatch.setenv("NCBI_EMAIL", email)
        defaults: dict[str, Any] = {
            "timeout": (2.0, 5.0),
            "max_tries": 4,
            "backoff_base": 0.01,
            "backoff_cap": 0.05,
            "requests_per_second": FAST,
            "sleep": sleeps,
        }
        client = EutilsClient(NcbiSettings.from_env(), **{**defaults, **options})
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def records(n: int, *, first: int = 1000, day: date = date(2024, 3, 1)) -> list[Record]:
    return [
        Record(
            pmid=str(first + i),
            title=f"Migrasome study {i}.",
            abstract="Migrasomes form on retraction fibres.",
            entrez_date=day + timedelta(days=i % 20),
        )
        for i in range(n)
    ]


def pmids_in(xml: bytes) -> list[str]:
    return [m.decode() for m in PMID.findall(xml)]


def fetch_all(client: EutilsClient, term: str = "migrasome", **options: Any) -> list[str]:
    found: list[str] = []
    for batch in fetch_records(client, term, **options):
        assert batch.record_count == count_records(batch.xml)
        found.extend(pmids_in(batch.xml))
    return found


# -- requests as NCBI expects them ---------------------------------------------------------------


def test_esearch_uses_history_and_keeps_what_ncbi_said(eutils_server, make_client):
    eutils_server.add(*records(5))
    eutils_server.annotate(
        "migrasome",
        errors=[("PhraseNotFound", "tspan99")],
        warnings=[("QuotedPhraseNotFound", '"retraction fibre"')],
    )
    result = make_client().esearch("migrasome", mindate="2024", maxdate="2024/06")

    assert result.count == 5
    assert result.webenv.startswith("MCID_") and result.query_key == "1"
    assert result.query_translation == (
        '("migrasome"[All Fields]) AND 2024/01/01:2024/06/30[Date - Entry]'
    )
    assert result.errors == ("PhraseNotFound: tspan99",)
    assert result.warnings == ('QuotedPhraseNotFound: "retraction fibre"',)
    assert result.window == "2024/01/01:2024/06/30"
    (sent,) = eutils_server.requests("esearch")
    assert sent.method == "GET"
    assert sent.params == {
        "db": "pubmed",
        "term": "migrasome",
        "usehistory": "y",
        "retmax": "0",
        "datetype": "edat",
        "mindate": "2024/01/01",
        "maxdate": "2024/06/30",
        "tool": "minemig",
        "email": EMAIL,
        "api_key": API_KEY,
    }


def test_settings_come_from_the_environment(eutils_server, monkeypatch):
    monkeypatch.setenv("NCBI_API_KEY", API_KEY)
    settings = NcbiSettings.from_env()
    assert settings.base_url == eutils_server.url
    assert API_KEY not in repr(settings)
    with EutilsClient(settings) as client:
        assert API_KEY not in repr(client)


def test_empty_credentials_are_left_out_and_a_missing_email_warned_once(
    eutils_server, make_client, monkeypatch, caplog
):
    monkeypatch.setattr(fetch, "_email_warned", threading.Event())
    eutils_server.add(*records(2))
    with caplog.at_level(logging.WARNING, logger="minemig.fetch"):
        client = make_client(api_key="", email="")
        make_client(api_key="", email="")
        client.esearch("migrasome")
    assert len([r for r in caplog.records if "NCBI_EMAIL is not set" in r.getMessage()]) == 1
    (sent,) = eutils_server.requests("esearch")
    assert sent.params["tool"] == "minemig"
    assert "email" not in sent.params and "api_key" not in sent.params


def test_batches_walk_the_history_with_retstart_and_retmax(eutils_server, make_client):
    eutils_server.add(*records(25))
    run = fetch_records(make_client(), "migrasome", batch_size=10)
    batches = list(run)

    assert [(b.retstart, b.record_count) for b in batches] == [(0, 10), (10, 10), (20, 5)]
    assert {b.window for b in batches} == {"all"}
    sent = [(r.params["retstart"], r.params["retmax"]) for r in eutils_server.requests("efetch")]
    assert sent == [("0", "10"), ("10", "10"), ("20", "5")]
    webenv = run.searches[0].webenv
    assert all(r.params["WebEnv"] == webenv for r in eutils_server.requests("efetch"))
    found = [p for b in batches for p in pmids_in(b.xml)]
    assert sorted(found) == sorted(eutils_server.pmids)
    assert (run.expected, run.fetched) == (25, 25)


def test_max_records_caps_the_fetch(eutils_server, make_client):
    eutils_server.add(*records(25))
    run = fetch_records(make_client(), "migrasome", max_records=12, batch_size=5)
    assert sum(b.record_count for b in run) == 12
    assert [r.params["retmax"] for r in eutils_server.requests("efetch")] == ["5", "5", "2"]


def test_long_id_lists_are_posted(eutils_server, make_client):
    corpus = records(201)
    eutils_server.add(*corpus)
    client = make_client()
    ids = [r.pmid for r in corpus]

    assert count_records(client.efetch_ids(ids[:200])) == 200
    assert count_records(client.efetch_ids(ids)) == 201
    webenv, query_key = client.epost(ids)
    assert count_records(client.efetch(webenv, query_key, retstart=200, retmax=10)) == 1

    methods = [
        (r.endpoint, r.method, len(r.params["id"].split(",")))
        for r in eutils_server.requests()
        if "id" in r.params
    ]
    assert methods == [("efetch", "GET", 200), ("efetch", "POST", 201), ("epost", "POST", 201)]
    assert all(r.params["api_key"] == API_KEY for r in eutils_server.requests())


# -- the rate limit ------------------------------------------------------------------------------


def request_times(server: EutilsServer) -> list[float]:
    return sorted(r.time for r in server.requests())


def test_without_a_key_at_most_three_requests_a_second_across_threads(eutils_server, make_client):
    eutils_server.add(*records(3))
    clients = [make_client(api_key="", requests_per_second=None) for _ in range(2)]

    def search(client: EutilsClient) -> None:
        for _ in range(4):
            client.esearch("migrasome")

    threads = [threading.Thread(target=search, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    times = request_times(eutils_server)
    assert len(times) == 8
    assert all(later - earlier >= 1.0 for earlier, later in zip(times, times[3:], strict=False))


def test_with_a_key_up_to_ten_requests_a_second(eutils_server, make_client):
    eutils_server.add(*records(3))
    client = make_client(requests_per_second=None)
    started = time.monotonic()
    for _ in range(12):
        client.esearch("migrasome")
    elapsed = time.monotonic() - started

    times = request_times(eutils_server)
    assert all(later - earlier >= 1.0 for earlier, later in zip(times, times[10:], strict=False))
    assert elapsed < 2.5  # 3 a second would need more than 3.6 s


# -- retries ---------------------------------------------------------------------------------------


def test_429_waits_as_long_as_retry_after_says(eutils_server, make_client, sleeps):
    eutils_server.add(*records(5))
    eutils_server.inject("efetch", Fault.status(429, retry_after=2))
    assert len(fetch_all(make_client())) == 5
    assert sleeps == [2.0]
    assert [r.fault for r in eutils_server.requests("efetch")] == ["json", ""]


def test_503_retry_after_as_an_http_date(eutils_server, make_client, sleeps):
    eutils_server.add(*records(5))
    when = email.utils.formatdate(time.time() + 3, usegmt=True)
    eutils_server.inject("esearch", Fault.status(503, retry_after=when))
    assert len(fetch_all(make_client())) == 5
    (delay,) = sleeps
    assert 1.0 < delay <= 3.0


def test_retry_after_really_spaces_the_retry(eutils_server, make_client):
    eutils_server.add(*records(5))
    eutils_server.inject("efetch", Fault.status(429, retry_after=1))
    assert len(fetch_all(make_client(sleep=time.sleep))) == 5
    first, second = (r.time for r in eutils_server.requests("efetch"))
    assert second - first >= 1.0


@pytest.mark.parametrize(
    ("endpoint", "fault"),
    [
        ("efetch", Fault.status(500)),
        ("efetch", Fault.status(502)),
        ("efetch", Fault.status(503)),
        ("esearch", Fault.status(500)),
        ("efetch", Fault.reset()),
        ("esearch", Fault.reset()),
        ("efetch", Fault.truncated()),
        ("efetch", Fault.truncated(honest_length=True)),
        ("esearch", Fault.truncated(honest_length=True)),
        ("efetch", Fault.empty()),
        ("esearch", Fault.empty()),
        ("efetch", Fault.json_rate_limit()),
        ("esearch", Fault.json_rate_limit(code=429)),
        ("efetch", Fault.error_in_200("Search Backend failed: temporarily unavailable")),
        ("efetch", Fault.respond(200, b"<html><body>PmFetch response</body></html>")),
    ],
    ids=lambda value: value if isinstance(value, str) else f"{value.kind}-{value.code}",
)
def test_transient_failures_are_retried_with_bounded_backoff(
    eutils_server, make_client, sleeps, endpoint, fault
):
    eutils_server.add(*records(15))
    eutils_server.inject(endpoint, fault, fault)
    found = fetch_all(make_client(), batch_size=10)

    assert sorted(found) == sorted(eutils_server.pmids)
    assert [r.fault for r in eutils_server.requests(endpoint)][:3] == [fault.kind] * 2 + [""]
    assert len(sleeps) == 2
    assert 0 <= sleeps[0] <= 0.01 and 0 <= sleeps[1] <= 0.02  # full jitter under base * 2**n


def test_a_slow_answer_times_out_and_is_retried(eutils_server, make_client):
    eutils_server.add(*records(5))
    eutils_server.inject("efetch", Fault.slow(3))
    started = time.monotonic()
    assert len(fetch_all(make_client(timeout=(2.0, 0.3)))) == 5
    assert time.monotonic() - started < 2.5
    assert [r.fault for r in eutils_server.requests("efetch")] == ["slow", ""]


def test_exhausted_retries_say_what_failed_without_the_key(eutils_server, make_client, caplog):
    eutils_server.add(*records(5))
    eutils_server.inject("efetch", *[Fault.status(503)] * 3)
    caplog.set_level(logging.DEBUG)
    client = make_client(max_tries=3)
    with pytest.raises(FetchError) as caught:
        fetch_all(client)

    message = str(caught.value)
    assert message.startswith("[M300] efetch (query_key=1, retstart=0, retmax=5): HTTP 503")
    assert "gave up after 3 tries" in message and "\n" not in message
    assert API_KEY not in message and API_KEY not in repr(client)
    assert "curator" not in message
    assert API_KEY not in caplog.text


def test_an_unreachable_server_fails_cleanly_without_the_key(eutils_server, make_client, caplog):
    client = make_client(max_tries=2)
    caplog.set_level(logging.DEBUG)
    client.esearch("migrasome")
    eutils_server.stop()
    with pytest.raises(FetchError) as caught:
        client.esearch("migrasome")
    assert "connection failed" in str(caught.value)
    assert API_KEY not in str(caught.value)
    assert caught.value.__suppress_context__ or caught.value.__context__ is None
    assert API_KEY not in caplog.text
    assert "api_key=***" in caplog.text  # urllib3's own debug lines are redacted, not dropped


# -- NCBI's errors ---------------------------------------------------------------------------------


def test_an_error_document_in_a_200_is_an_error_not_an_empty_batch(eutils_server, make_client):
    eutils_server.add(*records(5))
    eutils_server.inject("efetch", Fault.error_in_200("Some IDs have invalid value"))
    with pytest.raises(FetchError, match="NCBI: Some IDs have invalid value"):
        fetch_all(make_client())
    assert len(eutils_server.requests("efetch")) == 1


@pytest.mark.parametrize(
    ("message", "error"),
    [
        ("Empty term and query_key - nothing todo", UsageError),
        ("Invalid query syntax near '('", UsageError),
        ("Invalid db name specified: fleegle", FetchError),
    ],
)
def test_a_failed_search_carries_ncbis_message(eutils_server, make_client, message, error):
    eutils_server.inject("esearch", Fault.error_in_200(message))
    with pytest.raises(error) as caught:
        make_client().esearch("migrasome")
    assert message in str(caught.value)
    assert type(caught.value) is error


def test_an_empty_query_is_refused_before_any_request(eutils_server, make_client):
    with pytest.raises(UsageError):
        make_client().esearch("   ")
    with pytest.raises(UsageError):
        fetch_records(make_client(), "")
    assert eutils_server.requests() == []


def test_error_list_is_kept_and_a_zero_count_is_reported_with_it(eutils_server, make_client):
    eutils_server.add(*records(3))
    eutils_server.annotate("abcXYZ", errors=[("PhraseNotFound", "abcXYZ")])
    run = fetch_records(make_client(), "abcXYZ")
    assert list(run) == []
    (search,) = run.searches
    assert search.count == 0
    assert search.errors == ("PhraseNotFound: abcXYZ",)
    assert search.warnings == ("OutputMessage: No items found.",)


def test_an_unknown_dtd_is_never_fetched(eutils_server, make_client):
    document = (
        b'<?xml version="1.0" encoding="UTF-8" ?>\n'
        b'<!DOCTYPE eSearchResult PUBLIC "-//NLM//DTD esearch 20990101//EN" '
        b'"http://eutils.ncbi.nlm.nih.gov/eutils/dtd/20990101/esearch_2099.dtd">\n'
        b"<eSearchResult><Count>0</Count><RetMax>0</RetMax><RetStart>0</RetStart>"
        b"<QueryKey>1</QueryKey><WebEnv>MCID_1</WebEnv><IdList/><TranslationSet/>"
        b"<QueryTranslation>x[All Fields]</QueryTranslation></eSearchResult>"
    )
    eutils_server.inject("esearch", Fault.respond(200, document))
    result = make_client().esearch("x")
    assert (result.count, result.query_translation) == (0, "x[All Fields]")


def test_an_expired_history_is_searched_again_and_resumed(eutils_server, make_client):
    eutils_server.add(*records(30))
    run = fetch_records(make_client(), "migrasome", batch_size=10)
    batches = iter(run)
    first = next(batches)
    eutils_server.inject("efetch", Fault.expired_history())
    rest = list(batches)

    found = pmids_in(first.xml) + [p for b in rest for p in pmids_in(b.xml)]
    assert sorted(found) == sorted(eutils_server.pmids)
    assert [b.retstart for b in [first, *rest]] == [0, 10, 20]
    assert len(run.searches) == 2 and run.searches[0].webenv != run.searches[1].webenv
    assert [r.params["retstart"] for r in eutils_server.requests("efetch")] == [
        "0",
        "10",
        "10",
        "20",
    ]


def test_a_history_that_expires_again_at_once_is_an_error(eutils_server, make_client):
    eutils_server.add(*records(5))
    eutils_server.inject("efetch", Fault.expired_history(), Fault.expired_history())
    with pytest.raises(HistoryExpiredError, match="Unable to obtain query #1"):
        fetch_all(make_client())


# -- completeness ----------------------------------------------------------------------------------


def test_a_record_missing_from_a_batch_is_a_shortfall(eutils_server, make_client):
    corpus = records(12)
    eutils_server.add(*corpus)
    batches = iter(fetch_records(make_client(max_tries=2), "migrasome", batch_size=5))
    next(batches)
    newest_first = sorted(corpus, key=lambda r: (r.entrez_date, int(r.pmid)), reverse=True)
    eutils_server.remove(newest_first[5].pmid)  # the first record of the second batch
    with pytest.raises(FetchError, match="short batch: 4 of 5 records"):
        list(batches)


@cache
def big_corpus() -> tuple[tuple[str, date, str], ...]:
    """25,000 tiny records over 2020–2023, about 17 a day."""
    start = date(2020, 1, 1)
    rows = []
    for i in range(25_000):
        pmid = str(30_000_000 + i)
        day = start + timedelta(days=i % 1461)
        rows.append((pmid, day, article_xml(Record(pmid, title="Bulk", entrez_date=day))))
    return tuple(rows)


def load_big_corpus(server: EutilsServer) -> None:
    for pmid, day, xml in big_corpus():
        server.add_fragment(pmid, day, xml)
    server.map_term("bulk", server.pmids)


def test_a_result_over_9999_is_split_into_date_windows(eutils_server, make_client):
    load_big_corpus(eutils_server)
    client = make_client()
    run = fetch_records(client, "bulk", mindate="2020", maxdate="2023", batch_size=5000)
    found: list[str] = []
    windows = set()
    for batch in run:
        found.extend(pmids_in(batch.xml))
        windows.add(batch.window)

    assert len(found) == 25_000 and set(found) == set(eutils_server.pmids)
    assert run.searches[0].count == 25_000 and run.expected == run.fetched == 25_000
    assert len(windows) >= 3
    assert all(int(r.params["retstart"]) < 9999 for r in eutils_server.requests("efetch"))
    # Why the split is needed: the whole search's history holds only 9,999 records, and esearch
    # pages no further either.
    whole = run.searches[0]
    with pytest.raises(FetchError, match="OUT OF RANGE"):
        client.efetch(whole.webenv, whole.query_key, retstart=9999, retmax=10)
    page = requests.get(f"{eutils_server.url}esearch.fcgi?term=bulk&retstart=9999", timeout=5)
    assert "<ERROR>'retstart' cannot be larger than 9998." in page.text


def test_a_split_without_dates_covers_everything_and_notices_what_it_missed(
    eutils_server, make_client
):
    load_big_corpus(eutils_server)
    eutils_server.add_fragment("39999999", date.today() + timedelta(days=30), "<PubmedArticle/>")
    eutils_server.map_term("bulk", eutils_server.pmids)
    with pytest.raises(FetchError, match="hold 25,000 of the 25,001 records"):
        list(fetch_records(make_client(), "bulk", batch_size=5000))
    assert eutils_server.requests("efetch") == []  # found out before fetching anything


def test_max_records_under_9999_needs_no_split(eutils_server, make_client):
    load_big_corpus(eutils_server)
    run = fetch_records(make_client(), "bulk", max_records=150, batch_size=100)
    assert sum(b.record_count for b in run) == 150
    assert len(run.searches) == 1


def test_more_than_9999_records_on_one_day_cannot_be_split(eutils_server, make_client):
    xml = "<PubmedArticle/>"
    for i in range(10_000):
        eutils_server.add_fragment(str(20_000_000 + i), date(2022, 5, 5), xml)
    eutils_server.map_term("crowded", eutils_server.pmids)
    with pytest.raises(FetchError, match="have edat 2022/05/05; PubMed serves at most 9,999"):
        list(fetch_records(make_client(), "crowded", mindate="2022", maxdate="2022"))


# -- small pieces ----------------------------------------------------------------------------------


def test_dates_and_sizes_are_checked_before_any_request(eutils_server, make_client):
    client = make_client()
    refused: list[dict[str, Any]] = [
        {"mindate": "2024-13"},
        {"maxdate": "2024/13"},
        {"maxdate": "2023/02/29"},
        {"mindate": "yesterday"},
        {"mindate": "2024/05/01", "maxdate": "2024/04/01"},
        {"batch_size": 0},
        {"batch_size": 10_001},
        {"max_records": -1},
    ]
    for options in refused:
        with pytest.raises(UsageError):
            fetch_records(client, "migrasome", **options)
    assert eutils_server.requests() == []


def test_count_records_counts_articles_and_books_only():
    xml = (
        b"<PubmedArticleSet><PubmedArticle><x/></PubmedArticle>"
        b'<PubmedBookArticle lang="en"></PubmedBookArticle><PubmedArticleSetX/></PubmedArticleSet>'
    )
    assert count_records(xml) == 2


def test_retry_after_accepts_seconds_and_http_dates():
    assert retry_after_seconds("3") == 3.0
    assert retry_after_seconds("-5") == 0.0
    assert retry_after_seconds("99999") == fetch.MAX_RETRY_AFTER
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None
    assert retry_after_seconds("nan") is None
    later = retry_after_seconds(email.utils.formatdate(time.time() + 30, usegmt=True))
    assert later is not None and 28 <= later <= 30

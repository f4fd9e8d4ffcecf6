"""Shared fixtures."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from eutils_server import EutilsServer


@pytest.fixture
def eutils_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[EutilsServer]:
    """A loopback E-utilities server; ``MINEMIG_EUTILS_URL`` points at it for the test.

    A failure inside the server itself fails the test (the client would only see a 500).
    """
    server = EutilsServer().start()
    monkeypatch.setenv("MINEMIG_EUTILS_URL", server.url)
    for name in ("NO_PROXY", "no_proxy"):  # never send loopback requests to a proxy
        monkeypatch.setenv(name, "127.0.0.1")
    try:
        yield server
    finally:
        server.stop()
    assert not server.errors, server.errors[0]


@pytest.fixture(scope="session")
def reader() -> Any:
    """The migrasome topic's reader, rules only, built once per session (it takes seconds)."""
    from minemig.nlp import build_reader
    from minemig.topic import load_topic

    topic = load_topic("migrasome")
    return build_reader(topic.gazetteer_files, topic.abbreviation_files, model="none")

"""Running the minemig command line in-process, shared by the end-to-end test modules."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

from minemig import cli


@dataclass(frozen=True)
class Result:
    """What one command did: its exit status, stdout and stderr."""

    code: int
    out: str
    err: str

    @property
    def err_lines(self) -> list[str]:
        return self.err.splitlines()

    def jsonl(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.out.splitlines()]

    def csv(self) -> list[dict[str, str]]:
        return list(csv.DictReader(io.StringIO(self.out)))


Run = Callable[..., Result]
R = TypeVar("R", bound=Result)


def run_cli(
    capsys: pytest.CaptureFixture[str],
    *args: str | Path,
    result: type[R] = Result,  # type: ignore[assignment]
) -> R:
    """``minemig ARGS...`` through ``cli.main``, which always ends in SystemExit."""
    capsys.readouterr()
    try:
        cli.main([str(a) for a in args])
    except SystemExit as exc:
        code = exc.code
    else:  # pragma: no cover - main always exits
        raise AssertionError("minemig.cli.main returned instead of exiting")
    out, err = capsys.readouterr()
    assert isinstance(code, int), code
    return result(code, out, err)


_READERS: dict[tuple[Any, ...], Any] = {}


def share_readers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Build each reading pipeline once per test session (the first call is the real one)."""
    real = cli._reader_for

    def shared_reader(topic: Any) -> Any:
        key = (topic.gazetteer_files, topic.abbreviation_files, topic.model)
        if key not in _READERS:
            _READERS[key] = real(topic)
        return _READERS[key]

    monkeypatch.setattr(cli, "_reader_for", shared_reader)

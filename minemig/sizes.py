"""Read sizes written in abstracts ("0.5–3 µm", "800 ± 100 nm", "up to 3 μm") as nanometres."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

_UNIT_NM = {
    "nm": 1.0,
    "nanometer": 1.0,
    "nanometers": 1.0,
    "nanometre": 1.0,
    "nanometres": 1.0,
    "µm": 1000.0,  # micro sign U+00B5
    "μm": 1000.0,  # Greek mu U+03BC
    "um": 1000.0,
    "micrometer": 1000.0,
    "micrometers": 1000.0,
    "micrometre": 1000.0,
    "micrometres": 1000.0,
    "micron": 1000.0,
    "microns": 1000.0,
}
_NUMBER = r"\d{1,3}(?:,\d{3})+(?!\d)|\d+(?:[.,]\d+)?"
_UNIT = r"(?P<unit>nm|nanomet(?:er|re)s?|[µμu]m|micromet(?:er|re)s?|microns?)"
_DASH = r"\s*(?:-|–|—|to|(?(between)and|(?!)))\s*"  # "and" only after "between"
_SIZE_RE = re.compile(
    rf"(?P<between>between\s+)?"
    rf"(?P<qual>(?:up\s+to|as\s+(?:large|small)\s+as|less\s+than|smaller\s+than|under|below|"
    rf"more\s+than|larger\s+than|greater\s+than|over|above|about|approximately|around|~|≈|<|>|≤|≥)\s*)?"
    # Never from inside a number: the "5" of "1.5 µm" is no size, and starting at every digit
    # of a long run of digits would make the search quadratic.
    rf"(?<!\d)(?<!\d[.,])(?P<a>{_NUMBER})(?:\s*(?P<unit_a>nm|[µμu]m))?"
    rf"(?:(?P<pm>\s*(?:±|\+/-|\+-)\s*)(?P<err>{_NUMBER})|{_DASH}(?P<b>{_NUMBER}))?"
    rf"[\s-]*{_UNIT}(?![A-Za-z])",
    re.IGNORECASE,
)

_ANY_UNIT = re.compile(_UNIT + r"(?![A-Za-z])", re.IGNORECASE)
_AREA_MARKS = frozenset({"²", "³"})
_PER = re.compile(r"(?:\bper|/)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class SizeMention:
    text: str
    start: int
    end: int
    min_nm: float
    max_nm: float

    @property
    def entity_id(self) -> str:
        return f"SIZE:{round(self.min_nm)}-{round(self.max_nm)}nm"


def _number(text: str) -> float:
    if re.fullmatch(r"\d{1,3}(?:,\d{3})+", text):  # 1,000 is a thousand, not one
        return float(text.replace(",", ""))
    return float(text.replace(",", "."))


def find_sizes(text: str) -> list[SizeMention]:
    """Every size expression in ``text`` with its span and its range in nanometres.

    "up to"/"less than" give a range from 0; "more than" an open range written as
    equal bounds (the stated minimum); "±" a symmetric range.
    """
    found: list[SizeMention] = []
    if not _ANY_UNIT.search(text):
        return found  # the full pattern is slow to try at every position; most texts have no unit
    for match in _SIZE_RE.finditer(text):
        if text[match.end() : match.end() + 1] in _AREA_MARKS:
            continue  # 'per 100 μm² of wound bed': an area, not a diameter
        if _PER.search(text, max(0, match.start() - 6), match.start()):
            continue  # '4.2 per 100 µm of fibre': a unit of a density
        unit = match.group("unit").lower().replace("μ", "µ")
        scale = _UNIT_NM.get(unit)
        if scale is None:
            continue
        first = _number(match.group("a"))
        first_scale = _UNIT_NM.get((match.group("unit_a") or "").lower().replace("μ", "µ"), scale)
        qualifier = re.sub(r"\s+", " ", (match.group("qual") or "").strip().lower())
        if match.group("b") is not None:
            low, high = first * first_scale, _number(match.group("b")) * scale
        elif match.group("err") is not None:
            err = _number(match.group("err")) * scale
            low, high = first * scale - err, first * scale + err
        elif qualifier in {
            "up to",
            "as large as",
            "less than",
            "smaller than",
            "under",
            "below",
            "<",
            "≤",
        }:
            low, high = 0.0, first * scale
        else:
            low = high = first * scale
        if low > high:
            low, high = high, low
        if not math.isfinite(high - low):  # hundreds of digits overflow a float
            continue
        found.append(SizeMention(match.group(0), match.start(), match.end(), max(low, 0.0), high))
    return found

"""Sizes with units, ranges, ± and 'up to', normalised to nanometres."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from minemig.sizes import find_sizes


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("migrasomes of 0.5–3 µm in diameter", (500, 3000)),
        ("migrasomes of 0.5-3 μm in diameter", (500, 3000)),  # Greek mu
        ("vesicles of 0.5 to 3 um", (500, 3000)),
        ("a diameter of 800 ± 100 nm", (700, 900)),
        ("1.2±0.3 µm", (900, 1500)),
        ("up to 3 µm", (0, 3000)),
        ("less than 150 nm", (0, 150)),
        ("approximately 2 μm", (2000, 2000)),
        ("ranging from 500 nm to 3 µm", (500, 3000)),
        ("between 400 and 2,000 nm", (400, 2000)),
        ("3-µm migrasomes", (3000, 3000)),
        ("two microns", None),
        ("1–5 micrometres", (1000, 5000)),
        # the unit of an area or of a density is no size of anything
        ("12 migrasomes per 100 μm² of wound bed", None),
        ("a density of 4.2 per 100 µm of retraction fibre", None),
        ("one migrasome/10 µm of fibre", None),
    ],
)
def test_sizes_are_read_in_nanometres(text: str, expected: tuple[int, int] | None) -> None:
    sizes = find_sizes(text)
    if expected is None:
        assert sizes == []
    else:
        assert len(sizes) == 1
        assert (round(sizes[0].min_nm), round(sizes[0].max_nm)) == expected
        assert text[sizes[0].start : sizes[0].end] == sizes[0].text


def test_several_sizes_in_one_sentence_keep_their_own_spans() -> None:
    text = "exosomes (30–150 nm), ectosomes (100–1000 nm) and migrasomes (0.5–3 µm)"
    assert [s.entity_id for s in find_sizes(text)] == [
        "SIZE:30-150nm",
        "SIZE:100-1000nm",
        "SIZE:500-3000nm",
    ]


def test_non_sizes_are_ignored() -> None:
    assert find_sizes("cells were treated for 24 h with 10 mM EDTA at 37 °C") == []


@given(st.text(alphabet=st.sampled_from("0123456789.,-–±~ nmµμu<>upto"), max_size=60))
def test_any_text_never_crashes_and_ranges_are_ordered(text: str) -> None:
    for size in find_sizes(text):
        assert 0 <= size.min_nm <= size.max_nm

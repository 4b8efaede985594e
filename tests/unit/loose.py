"""X12 as other systems write it: a file of ours given a byte-order mark, blanks between its
segments and perhaps no terminator after its last IEA, for tests that it reads the same."""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import strategies as st

from edi.x12 import parse_isa

BOM = "\ufeff"

# Blanks a sender may put after a segment terminator: line breaks, indentation, both.
gaps = st.text(" \t\r\n", max_size=6)


def loosened(
    text: str,
    gap_cycle: Sequence[str] = ("\r\n    ",),
    *,
    bom: bool = True,
    lead: str = "",
    last: bool = True,
) -> str:
    """`text` with `gap_cycle[i % len]` after its i-th segment terminator, `lead` before the ISA
    (after the BOM when `bom`), and no terminator after the last IEA unless `last`. The
    interchanges of `text` share its first one's terminator, which is not a blank."""
    term = parse_isa(text)[0].segment
    assert not term.isspace(), "a blank terminator is not loosened"
    pieces = text.rstrip().split(term)
    assert pieces[-1] == "", "text ends with its terminator"
    pieces.pop()
    out = [BOM if bom else "", lead]
    for i, piece in enumerate(pieces):
        out.append(piece)
        if last or i < len(pieces) - 1:
            out.append(term)
        out.append(gap_cycle[i % len(gap_cycle)])
    return "".join(out)


@st.composite
def layouts(draw: st.DrawFn) -> dict[str, object]:
    """Keyword arguments for `loosened`: a BOM or not, blanks before the ISA, a cycle of gaps
    after terminators, the last terminator or not."""
    return {
        "gap_cycle": tuple(draw(st.lists(gaps, min_size=1, max_size=4))),
        "bom": draw(st.booleans()),
        "lead": draw(gaps),
        "last": draw(st.booleans()),
    }

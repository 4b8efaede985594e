"""The X12 writers with their batch check turned off: every element checked as written."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from edi.x12 import SegmentWriter


def _unbatched(self: SegmentWriter, write: Any, *args: Any) -> None:
    write(self, *args)


def written_checked(build: Callable[..., str], *args: Any) -> str:
    """`build(*args)` with each SegmentWriter.batch run as plain, element-checked writes."""
    with pytest.MonkeyPatch.context() as m:
        m.setattr(SegmentWriter, "batch", _unbatched)
        return build(*args)

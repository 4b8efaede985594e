"""Building frozen values fast, for the readers: slot-setting constructors and bounded memos.

Shared by read_837 and read_835. A reader makes the same few amounts, dates and codes over and
over, and one frozen dataclass per claim and line; these two helpers make that cheaper without
changing the values made.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from typing import Any, TypeVar

T = TypeVar("T")


def constructor(cls: type[T], *, head: int = 0) -> Callable[..., T]:
    """A positional constructor for a frozen, slotted dataclass that sets its slots directly.

    A frozen dataclass's __init__ goes through object.__setattr__ once per field, which is a
    large part of building a Claim (34 fields). This makes the same object (same class, every
    slot set, so equal and hashable as before) by calling the slot setters directly.
    Every field is given, in field order; the classes have no __post_init__ to skip.

    With `head`, the first `head` fields come as one tuple, the rest one by one:
    `make(first_fields, rest1, rest2, ...)`. A reader that remembers the fields of a segment
    as a tuple passes it as it is, with no call-time tuple built from it and its other values.
    """
    params = getattr(cls, "__dataclass_params__", None)
    names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    if (
        params is None
        or not params.frozen
        or tuple(names) != cls.__slots__  # type: ignore[attr-defined]
        or hasattr(cls, "__post_init__")
        or not all(f.init for f in fields(cls))  # type: ignore[arg-type]
    ):
        raise TypeError(f"{cls.__name__} is not a plain frozen slotted dataclass")
    setters = [cls.__dict__[name].__set__ for name in names]
    count = len(setters)
    # One generated function calling each slot setter directly, as dataclasses generate
    # __init__: about half the time of a loop over the setters (map/any) for 13-19 fields.
    # Only indices go into the source; the setters and the class are bound as globals.
    arg_names = ", ".join(f"v{i}" for i in range(count))
    body = "".join(f"    set{i}(obj, v{i})\n" for i in range(count))
    if head:
        first = ", ".join(f"v{i}" for i in range(head))
        rest = "".join(f", v{i}" for i in range(head, count))
        start = f"def make(head{rest}):\n    {first}, = head\n"
    else:
        start = (
            "def make(*values):\n"
            "    if len(values) != count:\n"
            "        raise TypeError(f'{name} takes {count} values, got {len(values)}')\n"
            f"    {arg_names}, = values\n"
        )
    source = f"{start}    obj = new(cls)\n{body}    return obj\n"
    scope: dict[str, Any] = {"new": object.__new__, "cls": cls, "count": count,
                             "name": cls.__name__}  # fmt: skip
    scope.update((f"set{i}", setter) for i, setter in enumerate(setters))
    # Named after the class, so profiles tell the constructors apart.
    exec(compile(source, f"<constructor {cls.__name__}>", "exec"), scope)  # noqa: S102
    make: Callable[..., T] = scope["make"]
    make.__name__ = make.__qualname__ = f"make_{cls.__name__}"
    return make


class Memo(dict[str, Any]):
    """Values made from element text that repeats claim after claim (amounts, dates, codes).

    The objects are immutable, so claims may share them. Only successful results are kept, so
    bad text raises exactly as it would without the memo; cleared when it grows past `limit`,
    so memory stays flat whatever the file.
    """

    __slots__ = ("limit", "make")

    def __init__(self, make: Callable[[str], Any], limit: int = 4096) -> None:
        super().__init__()
        self.make = make
        self.limit = limit

    def __missing__(self, key: str) -> Any:
        value = self.make(key)
        if len(self) >= self.limit:
            self.clear()
        self[key] = value
        return value

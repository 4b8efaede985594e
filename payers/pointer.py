"""RFC 6901 JSON pointers into the submitted claim JSON: building them and resolving them.

Field names in the claim JSON equal the model's field names, and list indexes are 0-based.
"""

from __future__ import annotations

from typing import Any


def pointer(*tokens: str | int) -> str:
    """The pointer for a path of object keys and 0-based list indexes; no tokens is the root."""
    return "".join("/" + _escape(str(token)) for token in tokens)


def join(base: str, *tokens: str | int) -> str:
    """Extend an existing pointer by more tokens."""
    return base + pointer(*tokens)


def resolve(document: Any, ref: str) -> Any:
    """The value a pointer names in a JSON document; KeyError or IndexError if none."""
    if ref == "":
        return document
    if not ref.startswith("/"):
        raise KeyError(ref)
    value = document
    for raw in ref[1:].split("/"):
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(value, list):
            # RFC 6901 forbids leading zeros, so "01" must not silently resolve to index 1.
            if not token.isdigit() or (len(token) > 1 and token[0] == "0"):
                raise KeyError(token)
            value = value[int(token)]
        elif isinstance(value, dict):
            value = value[token]
        else:
            raise KeyError(token)
    return value


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")

"""The gateway's few exceptions, each one HTTP problem (RFC 9457) the middleware renders.

Raise these for problems the client can act on; anything else becomes a generic 500 problem
with no internals shown.
"""

from __future__ import annotations

from typing import Any


class ProblemError(Exception):
    """A client-facing problem: status, a stable type slug, a title and a detail."""

    status = 500
    slug = "internal-error"
    title = "Internal error"

    def __init__(self, detail: str, *, errors: list[dict[str, Any]] | None = None, **extra: Any):
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        self.extra = extra

    def to_problem(self, instance: str | None = None) -> dict[str, Any]:
        return problem(
            self.status,
            self.slug,
            self.title,
            self.detail,
            instance=instance,
            errors=self.errors,
            **self.extra,
        )


class BadRequest(ProblemError):
    status, slug, title = 400, "bad-request", "The request could not be read"


class Unauthorized(ProblemError):
    status, slug, title = 401, "unauthorized", "Authentication required"


class Forbidden(ProblemError):
    status, slug, title = 403, "forbidden", "Not allowed for this submitter"


class NotFound(ProblemError):
    status, slug, title = 404, "not-found", "Not found"


class Conflict(ProblemError):
    status, slug, title = 409, "conflict", "Conflict"


class PayloadTooLarge(ProblemError):
    status, slug, title = 413, "payload-too-large", "Request body too large"


class UnsupportedMediaType(ProblemError):
    status, slug, title = 415, "unsupported-media-type", "Unsupported media type"


class InvalidClaim(ProblemError):
    status, slug, title = 422, "invalid-claim", "The claim does not match the claim schema"


class InvalidBatch(ProblemError):
    status, slug, title = 422, "invalid-batch", "The body is not a batch of claims"


class ServiceUnavailable(ProblemError):
    status, slug, title = 503, "service-unavailable", "Service unavailable"


def problem(
    status: int,
    slug: str,
    title: str,
    detail: str,
    *,
    instance: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": f"/problems/{slug}",  # relative: resolved against the gateway itself
        "title": title,
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    if errors is not None:
        body["errors"] = errors
    body.update({k: v for k, v in extra.items() if v is not None})
    return body

"""structlog configuration, done once: JSON lines with request and claim ids from contextvars.

Log events carry ids, codes and counts only. Claim payloads, X12 bodies and request bodies are
never passed to a logger, so no PHI can reach a log line.
"""

from __future__ import annotations

import logging
import sys
import traceback

import structlog

from gateway.settings import LoggingSettings


def configure_logging(settings: LoggingSettings) -> None:
    level = logging.getLevelNamesMapping().get(settings.level.upper())
    if level is None:
        raise ValueError(f"logging.level: unknown level {settings.level!r}")
    renderer: structlog.typing.Processor = (
        structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())  # no escapes in a file
        if settings.format == "console"
        else structlog.processors.JSONRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=False,  # tests swap processors with capture_logs
    )
    # Libraries log through the standard library; keep their noise at warning and above, as
    # our JSON lines without their arguments, and silence aiohttp's access log, which would
    # print query strings.
    root = logging.getLogger()
    if not any(isinstance(h, _LibraryRecords) for h in root.handlers):
        root.addHandler(_LibraryRecords())
    root.setLevel(max(level, logging.WARNING))
    logging.getLogger("aiohttp.access").setLevel(logging.CRITICAL)


class _LibraryRecords(logging.Handler):
    """Standard-library records (aiohttp, asyncssh, SQLAlchemy) written as our log lines, with
    the message template only: the arguments and the exception text can quote what a client
    sent (aiohttp's "Invalid header value char" quotes the whole Authorization header), so
    they are left out; an exception is named by its type and where it was raised."""

    def emit(self, record: logging.LogRecord) -> None:
        fields: dict[str, object] = {"logger": record.name}
        error = record.exc_info[1] if record.exc_info else None
        if error is not None:
            fields["error_type"] = type(error).__name__
            fields["where"] = where(error)
        try:
            structlog.get_logger("library").log(record.levelno, str(record.msg), **fields)
        except Exception:  # a log line must never take the server down
            self.handleError(record)


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(name)


def where(error: BaseException) -> list[str]:
    """Where an unexpected error was raised, as file:line:function frames, innermost last.

    Logged instead of the traceback text: exception messages can quote the data being
    processed (a value that failed to parse may be a birth date), so they stay out of logs.
    """
    frames = traceback.extract_tb(error.__traceback__)[-8:]
    return [f"{f.filename.rsplit('/', 2)[-2:][-1]}:{f.lineno}:{f.name}" for f in frames]

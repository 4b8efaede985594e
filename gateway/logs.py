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
        structlog.dev.ConsoleRenderer()
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
    # Libraries log through the standard library; keep their noise at warning and above, and
    # silence aiohttp's access log, which would print query strings.
    logging.basicConfig(level=max(level, logging.WARNING), stream=sys.stderr)
    logging.getLogger("aiohttp.access").setLevel(logging.CRITICAL)


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(name)


def where(error: BaseException) -> list[str]:
    """Where an unexpected error was raised, as file:line:function frames, innermost last.

    Logged instead of the traceback text: exception messages can quote the data being
    processed (a value that failed to parse may be a birth date), so they stay out of logs.
    """
    frames = traceback.extract_tb(error.__traceback__)[-8:]
    return [f"{f.filename.rsplit('/', 2)[-2:][-1]}:{f.lineno}:{f.name}" for f in frames]

"""structlog configured once per process: JSON lines to stdout, pretty on a terminal.

Handlers bind ``event_id``, ``customer_id`` and ``decision_id`` with
``bound_ids(...)`` so every line logged while a message is handled carries them.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any

import orjson
import structlog

# Values under these keys never reach a log line, whoever logs them.
SENSITIVE_KEYS = frozenset(
    {
        "phone",
        "email",
        "api_key",
        "api_keys",
        "authorization",
        "password",
        "secret",
        "pii_key",
        "token",
    }
)
REDACTED = "[redacted]"


def redact_sensitive(
    _: Any, __: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key in list(event_dict):
        if key.lower() in SENSITIVE_KEYS:
            event_dict[key] = REDACTED
    return event_dict


def _json_line(event_dict: Any, **_: Any) -> str:
    # orjson renders a line several times faster than the stdlib's json: a
    # stage logs a line per decision that sent something.
    return orjson.dumps(event_dict, default=repr).decode()


def configure_logging(level: str = "INFO", fmt: str = "auto") -> None:
    use_console = fmt == "console" or (fmt == "auto" and sys.stdout.isatty())
    renderer: Any = (
        structlog.dev.ConsoleRenderer()
        if use_console
        else structlog.processors.JSONRenderer(serializer=_json_line)
    )
    numeric_level = logging.getLevelName(level.upper())
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            redact_sensitive,
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric_level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stdout),
        cache_logger_on_first_use=True,
    )
    # Libraries (aiokafka, Faust, uvicorn) log through stdlib logging: the same
    # renderer makes their lines JSON too, a little quieter than our own.
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[
                structlog.stdlib.add_log_level,
                structlog.stdlib.add_logger_name,
                structlog.processors.TimeStamper(fmt="iso", utc=True),
                # A library's exception as its traceback, not the repr of a tuple.
                structlog.processors.format_exc_info,
                redact_sensitive,
            ],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(max(numeric_level, logging.WARNING))


class bound_ids:
    """Bind per-message ids for every log line in the block. A class, not a
    generator: entered once or twice per record on a stage's hot path."""

    __slots__ = ("_ids", "_tokens")

    def __init__(self, **ids: str | None) -> None:
        self._ids = {key: value for key, value in ids.items() if value is not None}
        self._tokens: Mapping[str, Any] = {}

    def __enter__(self) -> None:
        self._tokens = structlog.contextvars.bind_contextvars(**self._ids)

    def __exit__(self, *exc_info: object) -> None:
        structlog.contextvars.reset_contextvars(**self._tokens)


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)

"""Every refusal as RFC 9457 problem details (`application/problem+json`).

`{"type": "about:blank", "title": <reason phrase>, "status": <code>, "detail": <why>}`
plus extension members where they help a client (`path`, `items`,
`required_scope`, `errors`). Clients that read `detail` keep working: it was
the one member before, and still says why.
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any, Final

from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

PROBLEM_MEDIA_TYPE: Final = "application/problem+json"
# Enough to name every wrong parameter of a request; more says nothing new.
_MAX_FIELD_ERRORS: Final = 20


class GatewayError(Exception):
    """A refusal: problem details with `status`, `detail` and extension members."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers
        self.extra = extra


def problem_response(
    status: int, detail: str, *, headers: Mapping[str, str] | None = None, **extra: Any
) -> Response:
    body = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        **extra,
    }
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_MEDIA_TYPE)


async def gateway_error_handler(_: Request, error: Exception) -> Response:
    assert isinstance(error, GatewayError)
    return problem_response(error.status, error.detail, headers=error.headers, **error.extra)


async def http_error_handler(_: Request, error: Exception) -> Response:
    """Starlette's own refusals (unknown path 404, wrong method 405), as problems."""
    assert isinstance(error, HTTPException)
    return problem_response(error.status_code, str(error.detail), headers=error.headers)


async def validation_error_handler(_: Request, error: Exception) -> Response:
    """A parameter that does not fit the document: 422, naming each one.

    FastAPI's own body would echo the rejected values (`input`), which may be
    a customer id or worse; the problem names where and why, not what.
    """
    assert isinstance(error, RequestValidationError)
    errors = [
        {"loc": [str(part) for part in entry["loc"]], "msg": entry["msg"], "type": entry["type"]}
        for entry in error.errors()[:_MAX_FIELD_ERRORS]
    ]
    summary = "; ".join(f"{'.'.join(entry['loc'])}: {entry['msg']}" for entry in errors)
    return problem_response(422, summary or "The request does not fit the API", errors=errors)

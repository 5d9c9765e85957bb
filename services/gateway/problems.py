"""RFC 9457 problem details for what FastAPI and Starlette refuse themselves:
a request that fails validation (422), an unknown path (404), a wrong method
(405). ``GatewayError`` covers the gateway's own refusals (security.py)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response

from services.gateway.security import problem_response


async def _validation_problem(_: Request, error: Exception) -> Response:
    assert isinstance(error, RequestValidationError)
    errors = [
        {"path": ".".join(str(part) for part in item["loc"]), "message": item["msg"]}
        for item in error.errors()
    ]
    first = errors[0] if errors else {"path": "", "message": "invalid request"}
    return problem_response(422, f"{first['path']}: {first['message']}", errors=errors)


async def _http_problem(_: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    headers = None if error.headers is None else dict(error.headers)
    return problem_response(error.status_code, str(error.detail), headers)


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation_problem)
    app.add_exception_handler(HTTPException, _http_problem)

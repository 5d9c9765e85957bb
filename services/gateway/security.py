"""Refusals as one JSON shape, and the API-key dependency every /v1 route declares."""

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import ClientDisconnect
from starlette.responses import Response

from libs.common.logging import get_logger
from services.gateway.auth import AuthFailure, KeyEntry, Principal, Scope, authenticate
from services.gateway.metrics import CLIENT_CLOSED_REQUEST, route_template

# Re-exported: routes raise refusals from here, beside the dependency that raises them too.
from services.gateway.problems import GatewayError as GatewayError

log = get_logger("concierge.gateway")

# Declared for OpenAPI (the "Authorize" button in /docs); the header itself is
# parsed by `auth`, which gives better messages.
bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    description="A Concierge API key: `Authorization: Bearer <key>`.",
)


async def client_disconnect_handler(request: Request, error: Exception) -> Response:
    """The client hung up before its request was read: its doing, not a server error.

    Counted as 499 (as nginx does); nobody receives the response.
    """
    assert isinstance(error, ClientDisconnect)
    log.info("client_disconnected", route=route_template(request.scope), method=request.method)
    return Response(status_code=CLIENT_CLOSED_REQUEST)


def unauthenticated(failure: AuthFailure) -> GatewayError:
    challenge = {"WWW-Authenticate": failure.www_authenticate()}
    return GatewayError(401, failure.message, headers=challenge)


PrincipalDependency = Callable[..., Awaitable[Principal]]


def require(keys: tuple[KeyEntry, ...], scope: Scope) -> PrincipalDependency:
    """A dependency yielding the caller, refusing 401 (who?) or 403 (not allowed)."""

    async def principal(
        request: Request,
        _: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
    ) -> Principal:
        found = authenticate(keys, request.headers.get("authorization"))
        if isinstance(found, AuthFailure):
            log.debug("unauthenticated", reason=found.error or "no_key", path=request.url.path)
            raise unauthenticated(found)
        if not found.has(scope):
            log.debug("forbidden", caller=found.label, missing_scope=scope.value)
            raise GatewayError(
                403, f"This API key lacks the {scope.value} scope", required_scope=scope.value
            )
        return found

    return principal

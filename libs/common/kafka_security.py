"""How Kafka clients authenticate, and what a refusal from the broker says.

One translation of the ``CONCIERGE_KAFKA_*`` security settings into the
options of aiokafka's clients and into Faust's ``broker_credentials``, so a
producer, a consumer, an admin client and a Faust worker of the same process
connect as the same principal. A broker's "who are you" or "you may not" is
not a transient failure: ``denial_of`` names it (principal, operation,
resource) for ``libs.common.guard.exit_for_denial``.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from aiokafka import errors as kafka_errors
from aiokafka.helpers import create_ssl_context
from faust.auth import SASLCredentials, SSLCredentials
from faust.types.auth import CredentialsT

from libs.common.settings import SASL_PROTOCOLS, TLS_PROTOCOLS, CommonSettings


def ssl_context(settings: CommonSettings) -> ssl.SSLContext | None:
    if settings.kafka_security_protocol not in TLS_PROTOCOLS:
        return None
    key_password = settings.kafka_ssl_key_password.get_secret_value() or None
    context: ssl.SSLContext = create_ssl_context(
        cafile=settings.kafka_ssl_cafile,
        certfile=settings.kafka_ssl_certfile,
        keyfile=settings.kafka_ssl_keyfile,
        password=key_password,
    )
    return context


def client_security(settings: CommonSettings) -> dict[str, Any]:
    """aiokafka's options for producers, consumers, admin clients and connections."""
    options: dict[str, Any] = {"security_protocol": settings.kafka_security_protocol}
    context = ssl_context(settings)
    if context is not None:
        options["ssl_context"] = context
    if settings.kafka_security_protocol in SASL_PROTOCOLS:
        options["sasl_mechanism"] = settings.kafka_sasl_mechanism
        options["sasl_plain_username"] = settings.kafka_sasl_username
        options["sasl_plain_password"] = settings.kafka_sasl_secret
    return options


def faust_credentials(settings: CommonSettings) -> CredentialsT | None:
    """Faust's ``broker_credentials``: its driver turns them into the same options."""
    context = ssl_context(settings)
    if settings.kafka_security_protocol in SASL_PROTOCOLS:
        return SASLCredentials(
            username=settings.kafka_sasl_username,
            password=settings.kafka_sasl_secret,
            ssl_context=context,
            mechanism=settings.kafka_sasl_mechanism,
        )
    if context is not None:
        return SSLCredentials(context)
    return None


def principal_of(options: Mapping[str, Any]) -> str:
    """Who the broker sees a client with these options as, as its ACLs name it."""
    if options.get("sasl_plain_username"):
        return f"User:{options['sasl_plain_username']}"
    if options.get("security_protocol") == "SSL":
        return "the subject of the TLS client certificate"
    return "User:ANONYMOUS"


def principal(settings: CommonSettings) -> str:
    return principal_of(client_security(settings))


class Denial(NamedTuple):
    """A broker's refusal: who may not do what to which resource."""

    principal: str
    operation: str
    resource: str

    def __str__(self) -> str:
        return f"Kafka denied {self.principal} {self.operation} on {self.resource}"


class KafkaAccessDenied(RuntimeError):
    def __init__(self, denial: Denial) -> None:
        super().__init__(str(denial))
        self.denial = denial


AUTHENTICATION_ERRORS = (
    kafka_errors.SaslAuthenticationFailed,
    kafka_errors.AuthenticationFailedError,
    kafka_errors.AuthenticationMethodNotSupported,
    kafka_errors.UnsupportedSaslMechanismError,
    kafka_errors.IllegalSaslStateError,
)


def _names(found: Any) -> str:
    if isinstance(found, str):
        return found
    if isinstance(found, Iterable):
        return ", ".join(sorted(str(name) for name in found))
    return str(found)


def denial_of(error: BaseException, who: str, operation: str) -> Denial | None:
    """The refusal ``error`` stands for, or None if it is not one (then it is transient).

    ``operation`` is what the caller was doing (WRITE, READ, DESCRIBE): Kafka's
    errors name the resource but not the operation refused.
    """
    named = error.args[0] if error.args else ""
    if isinstance(error, kafka_errors.TopicAuthorizationFailedError):
        return Denial(who, operation, f"topic {_names(named)}")
    if isinstance(error, kafka_errors.GroupAuthorizationFailedError):
        return Denial(who, "READ", f"group {_names(named)}")
    if isinstance(error, kafka_errors.TransactionalIdAuthorizationFailed):
        return Denial(who, "WRITE", f"transactional id {_names(named)}")
    if isinstance(error, kafka_errors.ClusterAuthorizationFailedError):
        return Denial(who, operation, "the cluster")
    if isinstance(error, AUTHENTICATION_ERRORS):
        return Denial(who, "AUTHENTICATE", f"the brokers ({named or type(error).__name__})")
    cause = error.__cause__ or error.__context__
    if cause is not None and cause is not error:
        return denial_of(cause, who, operation)
    return None

"""Does a Kafka broker answer a metadata request? Exit 0 if yes, 1 if not.

Used by deploy/kafka/kafka.sh to wait for start-up and by services to fail
fast, with the address in the message, when the broker is unreachable. It
connects with the ``CONCIERGE_KAFKA_*`` security settings; a broker that
refuses them raises ``KafkaAccessDenied`` at once (exit 77 from main), since
waiting would not change its mind.
"""

from __future__ import annotations

import argparse
import asyncio
import ssl
import sys

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.conn import create_conn

from libs.common.guard import EXIT_KAFKA_DENIED
from libs.common.kafka import connection
from libs.common.kafka_security import (
    AUTHENTICATION_ERRORS,
    KafkaAccessDenied,
    client_security,
    denial_of,
    principal,
)
from libs.common.settings import CommonSettings


class BrokerUnreachableError(RuntimeError):
    pass


async def _refusal(settings: CommonSettings) -> BaseException | None:
    """Why the first broker refused us (our credentials, or its certificate), if
    it did: aiokafka's bootstrap reports any failure as "unable to bootstrap", so
    one connection is opened by hand to tell a refusal from a broker not up yet."""
    host, _, port = settings.kafka_bootstrap_servers.split(",")[0].strip().rpartition(":")
    try:
        conn = await create_conn(
            host, int(port), client_id="concierge-broker-probe", **client_security(settings)
        )
    except (*AUTHENTICATION_ERRORS, ssl.SSLError) as error:
        refusal: BaseException = error
        return refusal
    except Exception:  # not up, or not reachable: the caller's deadline decides
        return None
    conn.close()
    return None


async def wait_for_broker(settings: CommonSettings, timeout_seconds: float) -> int:
    """Return the number of brokers in the cluster, or raise after the deadline
    (BrokerUnreachableError), or at once if the brokers refuse our credentials
    (KafkaAccessDenied)."""
    bootstrap_servers = settings.kafka_bootstrap_servers
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_seconds
    last_error: BaseException | None = None
    while loop.time() < deadline:
        admin = AIOKafkaAdminClient(
            **connection(settings),
            client_id="concierge-broker-probe",
            request_timeout_ms=max(1000, int(min(5.0, timeout_seconds) * 1000)),
        )
        try:
            await asyncio.wait_for(admin.start(), timeout=max(0.5, deadline - loop.time()))
            cluster = await asyncio.wait_for(admin.describe_cluster(), timeout=5)
            return len(cluster["brokers"])
        except Exception as error:  # any failure means "not yet"; the deadline decides
            last_error = error
        finally:
            await admin.close()
        if settings.kafka_security_protocol != "PLAINTEXT":
            refusal = await _refusal(settings)
            if isinstance(refusal, ssl.SSLError):
                raise BrokerUnreachableError(
                    f"the TLS handshake with {bootstrap_servers} failed: {refusal}; "
                    "CONCIERGE_KAFKA_SSL_CAFILE must name the CA that signed the brokers' "
                    "certificates"
                ) from refusal
            if refusal is not None:
                denial = denial_of(refusal, principal(settings), "AUTHENTICATE")
                assert denial is not None  # an authentication error is a denial
                raise KafkaAccessDenied(denial) from refusal
        await asyncio.sleep(min(0.5, max(0.0, deadline - loop.time())))
    raise BrokerUnreachableError(
        f"no Kafka broker answered at {bootstrap_servers} within {timeout_seconds:g}s"
        + (f" (last error: {last_error!r})" if last_error else "")
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument("--timeout", type=float, default=5.0)
    args = parser.parse_args(argv)
    settings = CommonSettings(kafka_bootstrap_servers=args.bootstrap)
    try:
        brokers = asyncio.run(wait_for_broker(settings, args.timeout))
    except BrokerUnreachableError as error:
        print(error, file=sys.stderr)
        return 1
    except KafkaAccessDenied as error:
        print(error, file=sys.stderr)
        return EXIT_KAFKA_DENIED
    print(f"{args.bootstrap}: {brokers} broker(s) answered")
    return 0


if __name__ == "__main__":
    sys.exit(main())

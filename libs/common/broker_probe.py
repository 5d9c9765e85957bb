"""Does a Kafka broker answer a metadata request? Exit 0 if yes, 1 if not.

Used by deploy/kafka/kafka.sh to wait for start-up and by services to fail
fast, with the address in the message, when the broker is unreachable.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from aiokafka.admin import AIOKafkaAdminClient


class BrokerUnreachableError(RuntimeError):
    pass


async def wait_for_broker(bootstrap_servers: str, timeout_seconds: float) -> int:
    """Return the number of brokers in the cluster, or raise after the deadline."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_seconds
    last_error: BaseException | None = None
    while loop.time() < deadline:
        admin = AIOKafkaAdminClient(
            bootstrap_servers=bootstrap_servers,
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
    try:
        brokers = asyncio.run(wait_for_broker(args.bootstrap, args.timeout))
    except BrokerUnreachableError as error:
        print(error, file=sys.stderr)
        return 1
    print(f"{args.bootstrap}: {brokers} broker(s) answered")
    return 0


if __name__ == "__main__":
    sys.exit(main())

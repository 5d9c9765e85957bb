"""Rotating the PII key on a real broker: a customer linked by e-mail under the
old key is still found by that e-mail after the rotation, during the window
(old key as the previous key) and after it (new key alone)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from libs.common.settings import CommonSettings
from libs.common.topics import TopicNames
from services.cli.stack import SERVICES, Stack
from tests.support.events import interaction
from tests.support.kafka_io import Consumed, consume_until, event_bytes, produce
from tests.support.stack import free_port, stack_env

pytestmark = pytest.mark.integration

OLD_KEY = "old-pii-key-0123456789abcdef"
NEW_KEY = "new-pii-key-fedcba9876543210"
INTAKE = next(spec for spec in SERVICES if spec.name == "intake")


@contextmanager
def _intake(settings: CommonSettings, run_dir: Path, **keys: str) -> Iterator[Stack]:
    """Intake alone, on the run dir's data (its RocksDB survives between runs)."""
    env = stack_env(settings, run_dir)
    env.update({f"CONCIERGE_INTAKE_{name.upper()}": value for name, value in keys.items()})
    stack = Stack(run_dir, env, [INTAKE], ports={"intake": free_port()})
    try:
        stack.up(timeout=120)
        yield stack
    finally:
        stack.down()


async def _resolve(
    settings: CommonSettings, names: TopicNames, event: dict[str, object]
) -> dict[str, object]:
    await produce(settings, [(names.interactions("web"), None, event_bytes(event))])

    def found(seen: list[Consumed]) -> bool:
        return any(_event_id(record) == event["event_id"] for record in seen)

    seen = await consume_until(settings, [names.resolved], found, timeout=90)
    (record,) = [r.json() for r in seen if _event_id(r) == event["event_id"]]
    resolved: dict[str, object] = record
    return resolved


def _event_id(record: Consumed) -> object:
    return (record.json().get("event") or {}).get("event_id")


async def test_links_made_under_the_old_key_resolve_after_the_rotation(
    pipeline_settings: CommonSettings, names: TopicNames, tmp_path: Path
) -> None:
    email = f"jane.{uuid.uuid4().hex[:8]}@example.com"
    customer = f"C-{uuid.uuid4().hex[:8]}"

    with _intake(pipeline_settings, tmp_path, pii_key=OLD_KEY, pii_key_id="2025a"):
        login = interaction("identify", "web", {"customer_id": customer, "email": email})
        linked = await _resolve(pipeline_settings, names, login)
        assert linked["customer_id"] == customer

    with _intake(
        pipeline_settings,
        tmp_path,
        pii_key=NEW_KEY,
        pii_key_id="2026a",
        previous_pii_key=OLD_KEY,
        previous_pii_key_id="2025a",
    ):
        visit = interaction("page_view", "web", {"email": email}, {"page_type": "home"})
        during = await _resolve(pipeline_settings, names, visit)
        assert (during["customer_id"], during["provisional"]) == (customer, False)
        event = during["event"]
        assert isinstance(event, dict)
        assert event["identity"]["email_hash"].startswith("hmac-sha256:2026a:")
        # An e-mail never seen before is a stranger, as without a rotation.
        stranger = interaction("page_view", "web", {"email": f"x.{email}"}, {"page_type": "home"})
        assert (await _resolve(pipeline_settings, names, stranger))["provisional"] is True

    # The window is over: the link moved to the new key when it was used.
    with _intake(pipeline_settings, tmp_path, pii_key=NEW_KEY, pii_key_id="2026a"):
        later = interaction("page_view", "web", {"email": email}, {"page_type": "help"})
        after = await _resolve(pipeline_settings, names, later)
        assert (after["customer_id"], after["provisional"]) == (customer, False)

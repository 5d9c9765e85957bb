"""The operator endpoints: lag per stage, dead letters by code, replay; all-channel keys only."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from libs.common.settings import CommonSettings
from libs.contract.codec import to_json_bytes
from libs.contract.dlq import DeadLetter
from tests.integration.gateway.support import (
    OPERATOR_KEY,
    READONLY_KEY,
    WEB_KEY,
    RunningGateway,
    auth,
    consume,
    until,
)
from tests.support.kafka_io import produce

pytestmark = pytest.mark.integration


async def test_status_names_each_stage_and_says_when_decision_is_down(
    gateway: RunningGateway,
) -> None:
    async def status() -> dict[str, object] | None:
        # 503 until a fresh broker has a group coordinator (its offsets topic).
        answer = await gateway.client.get("/v1/operations/status", headers=auth(READONLY_KEY))
        assert answer.status_code in {200, 503}, answer.text
        return answer.json() if answer.status_code == 200 else None

    body = await until(status, timeout=60, interval=0.5)
    assert [stage["stage"] for stage in body["stages"]] == ["intake", "decision"]
    assert body["policy_version"] is None  # the decision service is not running here
    refused = await gateway.client.get("/v1/operations/status", headers=auth(WEB_KEY))
    assert refused.status_code == 403
    assert "all-channel" in refused.json()["detail"]


async def test_dead_letters_are_counted_by_code_and_replayed_once(
    gateway: RunningGateway, provisioned: CommonSettings
) -> None:
    names = gateway.names
    # A letter as intake writes it (no intake runs here).
    letter = DeadLetter.model_validate(
        {
            "error": {"code": "invalid_json", "message": "not JSON", "path": None},
            "original": "e25vdCBqc29u",
            "original_size": 9,
            "source": {"topic": names.interactions("web"), "partition": 0, "offset": 7},
            "rejected_at": datetime.now(UTC).isoformat(),
        }
    )
    await produce(provisioned, [(names.dlq, None, to_json_bytes(letter))])

    async def counted() -> dict[str, object] | None:
        answer = await gateway.client.get("/v1/operations/dead-letters", headers=auth(OPERATOR_KEY))
        body: dict[str, object] = answer.json()
        return body if body["by_code"] else None

    body = await until(counted)
    assert body["by_code"] == {"invalid_json": 1}
    [recent] = body["recent"]
    assert recent["source_offset"] == 7
    assert "original" not in recent

    no_write = await gateway.client.post(
        "/v1/operations/dead-letters/replay?code=invalid_json", headers=auth(READONLY_KEY)
    )
    assert no_write.status_code == 403
    replayed = await gateway.client.post(
        "/v1/operations/dead-letters/replay?code=invalid_json", headers=auth(OPERATOR_KEY)
    )
    assert replayed.status_code == 200, replayed.text
    assert replayed.json()["replayed"] == 1
    [back] = await consume(provisioned, names.interactions("web"), 1)
    assert back.value == b"{not json"
    again = await gateway.client.post(
        "/v1/operations/dead-letters/replay?code=invalid_json", headers=auth(OPERATOR_KEY)
    )
    assert again.json()["replayed"] == 0

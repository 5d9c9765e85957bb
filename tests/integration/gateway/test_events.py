"""POST /v1/events over real HTTP, with the events checked on Kafka."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from libs.common.settings import CommonSettings
from libs.contract.examples import example_interaction
from tests.integration.gateway.support import (
    OPERATOR_KEY,
    READONLY_KEY,
    WEB_KEY,
    RunningGateway,
    auth,
    consume,
    end_offsets,
)

pytestmark = pytest.mark.integration
JSON = {"Content-Type": "application/json"}


def event(event_type: str = "page_view", **changes: Any) -> dict[str, Any]:
    record = example_interaction(event_type, event_id=f"evt-{uuid.uuid4().hex[:12]}")
    record.update(changes)
    return record


async def post(gateway: RunningGateway, body: bytes, key: str = WEB_KEY, **headers: str) -> Any:
    return await gateway.client.post(
        "/v1/events", content=body, headers={**JSON, **auth(key), **headers}
    )


async def test_without_a_known_key_the_answer_is_401_with_a_challenge(
    gateway: RunningGateway,
) -> None:
    body = orjson.dumps(event())
    for headers in ({}, auth("unknown-key-0123456789abcdef"), {"Authorization": "Basic eDp5"}):
        answer = await gateway.client.post("/v1/events", content=body, headers={**JSON, **headers})
        assert answer.status_code == 401, answer.text
        assert answer.headers["www-authenticate"].startswith('Bearer realm="concierge"')
    unknown = await gateway.client.post(
        "/v1/events", content=body, headers={**JSON, **auth("unknown-key-0123456789abcdef")}
    )
    assert 'error="invalid_token"' in unknown.headers["www-authenticate"]


async def test_a_key_without_events_write_is_refused(gateway: RunningGateway) -> None:
    answer = await post(gateway, orjson.dumps(event()), key=READONLY_KEY)
    assert answer.status_code == 403
    assert "events:write" in answer.json()["detail"]


async def test_a_channel_key_cannot_send_another_channels_events(
    gateway: RunningGateway, provisioned: CommonSettings
) -> None:
    batch = [event("page_view"), event("call_started"), event("store_visit")]
    answer = await post(gateway, orjson.dumps(batch))
    assert answer.status_code == 403
    body = answer.json()
    assert body["items"] == [{"index": 1, "channel": "phone"}, {"index": 2, "channel": "store"}]
    assert "1, 2" in body["detail"]
    for channel in ("web", "phone", "store"):
        assert await end_offsets(provisioned, gateway.names.interactions(channel), 2) == 0


async def test_a_batch_with_bad_items_accepts_the_good_ones_and_they_land_on_kafka(
    gateway: RunningGateway, provisioned: CommonSettings
) -> None:
    good_known = event(
        identity={"customer_id": "cust-1", "anonymous_id": "anon-1"},
        attributes={"page_type": "product", "price_seen": 1.50},
    )
    unknown_type = event(type="teleported")
    good_anonymous = event("search", identity={"anonymous_id": "anon-2"})
    from_the_future = event(occurred_at="2999-01-01T00:00:00Z")
    nobody = event(identity={})
    items = [good_known, unknown_type, good_anonymous, from_the_future, nobody]
    # Odd spacing and a 1.50 the parser would respell: forwarded bytes must be the sent ones.
    sent = [
        orjson.dumps(item).replace(b'"price_seen":1.5', b'"price_seen": 1.50') for item in items
    ]
    body = b"[ " + b" ,\n  ".join(sent) + b"\n]"

    answer = await post(gateway, body)

    assert answer.status_code == 202, answer.text
    reply = answer.json()
    assert (reply["accepted"], reply["rejected"]) == (2, 3)
    results = reply["results"]
    assert [r["status"] for r in results] == [
        "accepted",
        "rejected",
        "accepted",
        "rejected",
        "rejected",
    ]
    assert [r["event_id"] for r in results] == [item["event_id"] for item in items]
    assert results[1]["error"]["code"] == "unknown_type"
    assert results[1]["error"]["path"] == "type"
    assert results[3]["error"]["code"] == "future_timestamp"
    assert results[4]["error"]["code"] == "missing_identity"
    assert all("partition" not in r for r in results if r["status"] == "rejected")

    records = await consume(provisioned, gateway.names.interactions("web"), 2)
    landed = {record.value: record for record in records}
    assert set(landed) == {sent[0], sent[2]}
    assert b'"price_seen": 1.50' in sent[0]
    assert landed[sent[0]].key == b"cust-1"
    assert landed[sent[2]].key == b"anon-2"
    for index in (0, 2):
        record = landed[sent[index]]
        assert (results[index]["partition"], results[index]["offset"]) == (
            record.partition,
            record.offset,
        )
    assert await end_offsets(provisioned, gateway.names.interactions("web"), 2) == 2


async def test_an_operator_key_sends_each_event_to_its_channel_topic(
    gateway: RunningGateway, provisioned: CommonSettings
) -> None:
    web, phone = event("page_view"), event("call_started")
    answer = await post(gateway, orjson.dumps([web, phone]), key=OPERATOR_KEY)
    assert answer.status_code == 202, answer.text
    (on_web,) = await consume(provisioned, gateway.names.interactions("web"), 1)
    (on_phone,) = await consume(provisioned, gateway.names.interactions("phone"), 1)
    assert orjson.loads(on_web.value)["event_id"] == web["event_id"]
    assert orjson.loads(on_phone.value)["event_id"] == phone["event_id"]
    # The phone event's only identifier is a raw phone number: never a key.
    assert on_phone.key is None


async def test_a_single_event_gets_a_single_result(gateway: RunningGateway) -> None:
    one = event()
    answer = await post(gateway, orjson.dumps(one))
    assert answer.status_code == 202
    (result,) = answer.json()["results"]
    assert result["index"] == 0
    assert result["event_id"] == one["event_id"]
    assert result["status"] == "accepted"
    assert isinstance(result["offset"], int)


async def test_when_no_item_is_valid_the_answer_is_422_and_nothing_is_written(
    gateway: RunningGateway, provisioned: CommonSettings
) -> None:
    answer = await post(gateway, orjson.dumps([event(type="nope"), event(identity={})]))
    assert answer.status_code == 422
    reply = answer.json()
    assert reply["accepted"] == 0
    assert [r["error"]["code"] for r in reply["results"]] == ["unknown_type", "missing_identity"]
    single = await post(gateway, orjson.dumps(event(occurred_at="yesterday")))
    assert single.status_code == 422
    assert single.json()["results"][0]["error"]["path"] == "occurred_at"
    assert await end_offsets(provisioned, gateway.names.interactions("web"), 2) == 0


async def test_an_oversized_body_is_413_whether_declared_or_streamed(
    gateway: RunningGateway,
) -> None:
    limit = gateway.settings.max_body_bytes
    # Ten events of 20 KB: each within the event limit, together over the body limit.
    batch = [event(attributes={"note": "x" * 20_000}) for _ in range(10)]
    body = orjson.dumps(batch)
    assert len(body) > limit
    declared = await post(gateway, body)
    assert declared.status_code == 413
    assert str(limit) in declared.json()["detail"]

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 8192):
            yield body[start : start + 8192]

    streamed = await gateway.client.post(
        "/v1/events", content=chunks(), headers={**JSON, **auth(WEB_KEY)}
    )
    assert "content-length" not in streamed.request.headers
    assert streamed.status_code == 413


async def test_an_event_over_32_kib_is_refused_as_too_large(gateway: RunningGateway) -> None:
    answer = await post(gateway, orjson.dumps([event(attributes={"note": "x" * 33_000})]))
    assert answer.status_code == 422
    assert answer.json()["results"][0]["error"]["code"] == "too_large"


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin-1"],
)
async def test_anything_but_json_is_415(gateway: RunningGateway, content_type: str) -> None:
    answer = await post(gateway, orjson.dumps(event()), **{"Content-Type": content_type})
    assert answer.status_code == 415


async def test_bodies_that_are_not_an_event_or_a_batch_are_400(gateway: RunningGateway) -> None:
    too_many = [event() for _ in range(gateway.settings.max_batch + 1)]
    for body in (b"{not json", b'"event"', b"[]", orjson.dumps(too_many), b""):
        answer = await post(gateway, body)
        assert answer.status_code == 400, body[:20]
        assert answer.json()["detail"]

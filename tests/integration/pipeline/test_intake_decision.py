"""intake (validation, identity) → decision (context, decision) on a real broker,
each stage its own process."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import orjson
import pytest

from libs.common.kafka import create_producer
from libs.common.lag import stage_lags
from libs.common.settings import CommonSettings
from libs.common.topics import CHANNELS, TopicNames
from services.cli.stack import Stack
from tests.support.events import in_the_future, interaction
from tests.support.journey import duplicates_dropped
from tests.support.kafka_io import Consumed, consume_until, event_bytes, produce, wait_for

pytestmark = pytest.mark.integration

RAW_PHONE = "+447700900123"
RAW_EMAIL = "Jane.Doe@example.com"


def _event_ids(records: list[Consumed], kind: str = "event") -> list[str]:
    return [r.json()["event"]["event_id"] for r in records if r.json().get("kind") == kind]


async def test_bad_records_are_dead_lettered_with_their_offset_while_good_ones_flow(
    pipeline: Stack, pipeline_settings: CommonSettings, names: TopicNames
) -> None:
    cookie = f"cookie-{uuid.uuid4().hex}"
    good = [
        interaction("page_view", "web", {"anonymous_id": cookie}, {"page_type": "home"})
        for _ in range(3)
    ]
    bad = [
        (b"{not json", "invalid_json"),
        (
            event_bytes(interaction("page_view", "phone", {"anonymous_id": cookie})),
            "channel_mismatch",
        ),
        (
            event_bytes(
                interaction(
                    "page_view", "web", {"anonymous_id": cookie}, occurred_at=in_the_future(30)
                )
            ),
            "future_timestamp",
        ),
        (
            event_bytes(
                interaction(
                    "page_view",
                    "web",
                    {"anonymous_id": cookie},
                    {"page_type": "home", "blob": "x" * 40_000},
                )
            ),
            "too_large",
        ),
        (
            event_bytes(interaction("purchase", "web", {"anonymous_id": cookie}, {"items": []})),
            "schema_violation",
        ),
        # A parse differential: Concierge reads the last channel, others the first.
        (
            event_bytes(interaction("page_view", "web", {"anonymous_id": cookie}))[:-1]
            + b',"channel":"phone"}',
            "duplicate_key",
        ),
        # A customer id that could never be queried back by URL.
        (
            event_bytes(
                interaction("page_view", "web", {"anonymous_id": cookie, "customer_id": ".."})
            ),
            "schema_violation",
        ),
    ]
    # Interleave: good, bad, good, bad, ... all on one partition (same key).
    payloads = [
        event_bytes(good[0]),
        bad[0][0],
        event_bytes(good[1]),
        bad[1][0],
        bad[2][0],
        event_bytes(good[2]),
        bad[3][0],
        bad[4][0],
        bad[5][0],
        bad[6][0],
    ]
    sent = await produce(
        pipeline_settings,
        [(names.interactions("web"), cookie.encode(), payload) for payload in payloads],
    )
    expected_codes = {
        sent[i].offset: code for i, (_, code) in zip([1, 3, 4, 6, 7, 8, 9], bad, strict=True)
    }

    def done(seen: list[Consumed]) -> bool:
        forwarded = [r for r in seen if r.topic == names.resolved]
        dead = [
            r
            for r in seen
            if r.topic == names.dlq
            and r.json()["source"]["topic"] == names.interactions("web")
            and r.json()["source"]["offset"] in expected_codes
        ]
        return len(
            {r.json()["event"]["event_id"] for r in forwarded} & {g["event_id"] for g in good}
        ) == 3 and len(dead) == len(bad)

    seen = await consume_until(pipeline_settings, [names.resolved, names.dlq], done)
    letters = [r.json() for r in seen if r.topic == names.dlq]
    got = {
        letter["source"]["offset"]: letter["error"]["code"]
        for letter in letters
        if letter["source"]["offset"] in expected_codes
    }
    assert got == expected_codes
    paths = {letter["source"]["offset"]: letter["error"]["path"] for letter in letters}
    assert (paths[sent[8].offset], paths[sent[9].offset]) == ("channel", "identity.customer_id")
    assert all(
        letter["source"]["partition"] == sent[0].partition
        for letter in letters
        if letter["source"]["offset"] in expected_codes
    )
    flowed = [
        e
        for e in _event_ids([r for r in seen if r.topic == names.resolved])
        if e in {g["event_id"] for g in good}
    ]
    assert flowed == [g["event_id"] for g in good]


async def test_a_repeated_event_id_is_processed_once(
    pipeline: Stack, pipeline_settings: CommonSettings, names: TopicNames
) -> None:
    customer = f"C-{uuid.uuid4().hex[:8]}"
    event = interaction("page_view", "web", {"customer_id": customer}, {"page_type": "help"})
    marker = interaction("app_open", "mobile", {"customer_id": customer})
    await produce(
        pipeline_settings,
        [
            (names.interactions("web"), customer.encode(), event_bytes(event)),
            (names.interactions("web"), customer.encode(), event_bytes(event)),
            (names.interactions("mobile"), customer.encode(), event_bytes(marker)),
        ],
    )
    seen = await consume_until(
        pipeline_settings, [names.resolved], lambda seen: marker["event_id"] in _event_ids(seen)
    )
    assert _event_ids(seen).count(event["event_id"]) == 1
    assert duplicates_dropped(pipeline) >= 1


async def test_one_journey_across_four_channels_and_identifiers_ends_in_one_context(
    pipeline: Stack, pipeline_settings: CommonSettings, names: TopicNames
) -> None:
    customer = f"C-{uuid.uuid4().hex[:8]}"
    cookie, loyalty = f"cookie-{uuid.uuid4().hex}", f"L-{uuid.uuid4().hex[:8]}"
    phone = f"+4477009{uuid.uuid4().int % 100000:05d}"
    journey = [
        (
            "web",
            interaction(
                "page_view",
                "web",
                {"anonymous_id": cookie},
                {"page_type": "product", "product_id": "P1", "category": "shoes"},
            ),
        ),
        (
            "web",
            interaction(
                "identify",
                "web",
                {
                    "anonymous_id": cookie,
                    "customer_id": customer,
                    "phone": phone,
                    "loyalty_id": loyalty,
                },
            ),
        ),
        ("phone", interaction("call_started", "phone", {"phone": phone})),
        (
            "mobile",
            interaction("app_open", "mobile", {"customer_id": customer, "device_id": "dev-1"}),
        ),
        (
            "store",
            interaction("store_visit", "store", {"loyalty_id": loyalty}, {"store_id": "S-7"}),
        ),
    ]
    # A second apart: the context keeps whole seconds, and the order must be unambiguous.
    start = datetime.now(UTC) - timedelta(seconds=len(journey))
    for step, (_, event) in enumerate(journey):
        event["occurred_at"] = (start + timedelta(seconds=step)).isoformat()
    await produce(
        pipeline_settings,
        [(names.interactions(channel), None, event_bytes(event)) for channel, event in journey],
    )
    last = journey[-1][1]["event_id"]
    seen = await consume_until(
        pipeline_settings, [names.resolved], lambda seen: last in _event_ids(seen)
    )
    # Everything after the login resolves to the customer, whatever identifier it carried.
    by_event = {
        r.json()["event"]["event_id"]: r.json()["customer_id"]
        for r in seen
        if r.json()["kind"] == "event"
    }
    assert [by_event[event["event_id"]] for _, event in journey[1:]] == [customer] * 4

    def context() -> dict[str, object] | None:
        response = httpx.get(f"{pipeline.url('decision')}/v1/customers/{customer}/context")
        body: dict[str, object] = response.json()
        interactions = body.get("recent_interactions", [])
        return (
            body
            if response.status_code == 200
            and isinstance(interactions, list)
            and len(interactions) == 5
            else None
        )

    body = await wait_for(context, what="the merged context")
    recent = body["recent_interactions"]
    assert [(i["channel"], i["type"]) for i in sorted(recent, key=lambda i: i["at"])] == [
        ("web", "page_view"),
        ("web", "identify"),
        ("phone", "call_started"),
        ("mobile", "app_open"),
        ("store", "store_visit"),
    ]
    assert (
        httpx.get(f"{pipeline.url('decision')}/v1/customers/nobody-{customer}/context").status_code
        == 404
    )


async def test_no_raw_phone_or_email_in_any_output_topic_or_log_line(
    pipeline: Stack, pipeline_settings: CommonSettings, names: TopicNames
) -> None:
    identity = {"phone": RAW_PHONE, "email": RAW_EMAIL}
    good = interaction("call_started", "phone", identity)
    bad = interaction("call_started", "web", identity)  # channel mismatch: dead-lettered
    await produce(
        pipeline_settings,
        [
            (names.interactions("phone"), None, event_bytes(good)),
            (names.interactions("phone"), None, event_bytes(bad)),
        ],
    )
    outputs = [names.resolved, names.dlq, names.suppressions]
    outputs += [names.actions(channel) for channel in CHANNELS]
    # Intake's table changelogs hold identifiers too: hashed, never raw.
    outputs += [
        names.changelog("intake", table)
        for table in ("identifier-links", "customer-identifiers", "seen-event-ids")
    ]
    seen = await consume_until(
        pipeline_settings,
        outputs,
        lambda seen: (
            good["event_id"] in _event_ids([r for r in seen if r.topic == names.resolved])
            and any(
                r.topic == names.dlq
                and bad["event_id"].encode() in base64.b64decode(r.json()["original"] or "")
                for r in seen
            )
        ),
    )
    for record in seen:
        raw = (record.key or b"") + (record.value or b"")
        decoded = raw
        if record.topic == names.dlq and record.json().get("original"):
            decoded += base64.b64decode(record.json()["original"])
        for secret in (RAW_PHONE.encode(), RAW_EMAIL.encode(), RAW_EMAIL.lower().encode()):
            assert secret not in decoded, f"raw PII on {record.topic}"
    for name in ("intake", "decision"):
        log = pipeline.log_path(name).read_text()
        assert RAW_PHONE not in log
        assert RAW_EMAIL.lower() not in log.lower()


async def test_erasure_forgets_the_customer_and_old_identifiers_start_from_nothing(
    pipeline: Stack, pipeline_settings: CommonSettings, names: TopicNames
) -> None:
    customer, cookie = f"C-{uuid.uuid4().hex[:8]}", f"cookie-{uuid.uuid4().hex}"
    login = interaction("identify", "web", {"anonymous_id": cookie, "customer_id": customer})
    await produce(pipeline_settings, [(names.interactions("web"), None, event_bytes(login))])
    context_url = f"{pipeline.url('decision')}/v1/customers/{customer}/context"
    await wait_for(lambda: httpx.get(context_url).status_code == 200, what="context exists")

    erasure = {
        "schema": "erasure/v1",
        "request_id": f"er-{uuid.uuid4().hex[:8]}",
        "customer_id": customer,
        "requested_at": login["occurred_at"],
    }
    await produce(
        pipeline_settings, [(names.privacy_requests, customer.encode(), orjson.dumps(erasure))]
    )
    await wait_for(lambda: httpx.get(context_url).status_code == 404, what="context erased")

    again = interaction("page_view", "web", {"anonymous_id": cookie}, {"page_type": "home"})
    await produce(pipeline_settings, [(names.interactions("web"), None, event_bytes(again))])
    seen = await consume_until(
        pipeline_settings,
        [names.resolved],
        lambda seen: again["event_id"] in _event_ids(seen),
    )
    record = next(
        r.json() for r in seen if r.json().get("event", {}).get("event_id") == again["event_id"]
    )
    assert record["customer_id"] != customer
    assert record["provisional"] is True
    fresh_url = f"{pipeline.url('decision')}/v1/customers/{record['customer_id']}/context"

    def fresh_context() -> dict[str, object] | None:
        response = httpx.get(fresh_url)
        return response.json() if response.status_code == 200 else None

    fresh = await wait_for(fresh_context, what="the new provisional context")
    assert fresh["provisional"] is True
    interactions = fresh["recent_interactions"]
    assert isinstance(interactions, list)
    assert len(interactions) == 1


async def test_events_published_in_transactions_flow_and_aborted_ones_never_do(
    pipeline: Stack, pipeline_settings: CommonSettings, names: TopicNames
) -> None:
    """A channel system that publishes in transactions leaves offsets that hold no
    event (commit markers): intake must read past them and commit to the end (the
    last marker, after the last event, by the stall watchdog's check), and an event
    of an aborted transaction never happened."""
    cookie = f"cookie-{uuid.uuid4().hex}"
    committed = [
        interaction("page_view", "web", {"anonymous_id": cookie}, {"page_type": "home"})
        for _ in range(6)
    ]
    aborted = interaction("page_view", "web", {"anonymous_id": cookie}, {"page_type": "home"})
    topic = names.interactions("web")
    producer = create_producer(
        pipeline_settings, client_id="test-transactional", transactional_id=uuid.uuid4().hex
    )
    await producer.start()
    try:
        for pair in (committed[0:2], committed[2:4]):
            async with producer.transaction():
                for event in pair:
                    await producer.send_and_wait(topic, event_bytes(event), key=cookie.encode())
        await producer.begin_transaction()
        await producer.send_and_wait(topic, event_bytes(aborted), key=cookie.encode())
        await producer.abort_transaction()
        async with producer.transaction():
            for event in committed[4:6]:
                await producer.send_and_wait(topic, event_bytes(event), key=cookie.encode())
    finally:
        await producer.stop()

    async def intake_committed_to_the_end() -> bool:
        lags = (await stage_lags(pipeline_settings, ["intake"]))["intake"]
        return all(p.lag == 0 for p in lags if p.topic == topic)

    await wait_for(intake_committed_to_the_end, 60, "intake's commits past the markers")
    wanted = {event["event_id"] for event in committed}

    seen = await consume_until(
        pipeline_settings,
        [names.resolved],
        lambda seen: wanted <= set(_event_ids(seen)),
    )
    flowed = [e for e in _event_ids(seen) if e in wanted | {aborted["event_id"]}]
    assert flowed == [event["event_id"] for event in committed]

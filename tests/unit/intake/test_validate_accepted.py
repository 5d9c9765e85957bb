"""What an accepted record becomes: hashed, stamped, otherwise as sent."""

from datetime import timedelta

import orjson
import pytest

from libs.contract.codec import from_json_bytes, to_json_bytes
from libs.contract.common import Channel
from libs.contract.examples import example_interaction
from libs.contract.interaction import InteractionEvent
from libs.contract.vocabulary import EventType, allowed_channels
from services.intake.domain.pii import hash_email, hash_phone
from services.intake.domain.validate import DEFAULT_MAX_BYTES
from tests.unit.intake.support import KEY, NOW, accepted

PHONE = "+44 20 7946 0958"
EMAIL = " Jane.Doe@Example.com "


def _every_type_on_every_channel() -> list[tuple[str, Channel]]:
    return [(t.value, c) for t in EventType for c in Channel if c in allowed_channels(t)]


@pytest.mark.parametrize(("event_type", "channel"), _every_type_on_every_channel())
def test_every_type_is_accepted_on_each_of_its_channels(event_type: str, channel: Channel) -> None:
    record = example_interaction(event_type, channel=channel)
    event = accepted(record, channel).event
    assert (event.type, event.channel) == (event_type, channel)


def test_phone_and_email_are_replaced_by_keyed_hashes() -> None:
    record = example_interaction("identify", channel=Channel.phone)
    record["identity"] = {"phone": PHONE, "email": EMAIL, "customer_id": "cust-42"}
    identity = accepted(record, Channel.phone).event.identity
    assert identity.phone is None
    assert identity.email is None
    assert identity.phone_hash == hash_phone(KEY, "+442079460958")
    assert identity.email_hash == hash_email(KEY, "jane.doe@example.com")
    assert identity.customer_id == "cust-42"


def test_raw_phone_and_email_never_appear_in_the_accepted_json() -> None:
    record = example_interaction("identify")
    record["identity"] = {"phone": PHONE, "email": EMAIL}
    value = to_json_bytes(accepted(record).event)
    for needle in (PHONE, "+442079460958", "7946", EMAIL.strip(), "jane.doe", '"phone"', '"email"'):
        assert needle.encode() not in value


def test_received_at_is_stamped_and_the_rest_is_as_sent() -> None:
    record = example_interaction("purchase")
    record["attributes"]["loyalty_points"] = 120
    event = accepted(record).event
    assert event.received_at == NOW
    assert event.attributes == record["attributes"]
    sent = {key: value for key, value in record.items() if key != "occurred_at"}
    emitted = orjson.loads(to_json_bytes(event))
    assert {key: emitted[key] for key in sent} == sent


def test_the_accepted_event_round_trips_on_internal_topics() -> None:
    record = example_interaction("identify")
    event = accepted(record).event
    assert from_json_bytes(InteractionEvent, to_json_bytes(event)) == event


@pytest.mark.parametrize("channel", list(Channel))
def test_custom_types_are_accepted_on_any_channel(channel: Channel) -> None:
    record = example_interaction("app_open", channel=Channel.web)
    record.update(channel=channel.value, type="x-survey_completed", attributes={"nps": 9})
    event = accepted(record, channel).event
    assert event.attributes == {"nps": 9}


def test_exactly_the_size_limit_is_accepted() -> None:
    record = example_interaction("page_view")
    record["attributes"]["padding"] = ""
    record["attributes"]["padding"] = "x" * (DEFAULT_MAX_BYTES - len(orjson.dumps(record)))
    value = orjson.dumps(record)
    assert len(value) == DEFAULT_MAX_BYTES
    accepted(value)


@pytest.mark.parametrize("seconds", [-86_400 * 30, 0, 299, 300])
def test_past_and_slightly_future_timestamps_are_accepted(seconds: int) -> None:
    occurred_at = (NOW + timedelta(seconds=seconds)).isoformat()
    accepted(example_interaction("page_view", occurred_at=occurred_at))


def test_unicode_text_is_kept() -> None:
    record = example_interaction("search")
    record["attributes"]["query"] = "écouteurs sans fil 🎧 \u0000"
    assert accepted(record).event.attributes["query"] == "écouteurs sans fil 🎧 \u0000"

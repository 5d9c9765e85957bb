"""Records Concierge emits (action, suppression, dead letter) and erasure requests."""

import base64
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from pydantic import BaseModel, ValidationError

from libs.contract.action import ActionEvent, ActionSpec, Reason
from libs.contract.codec import from_json_bytes, to_json_bytes
from libs.contract.common import ActionKind, Channel, ContactChannel, Trigger
from libs.contract.dlq import SENDER_ACTION, DeadLetter, ErrorCode, ErrorInfo, SourceRef
from libs.contract.erasure import ErasureRequest
from libs.contract.suppression import (
    SuppressionEvent,
    SuppressionReason,
    SuppressionScope,
    SuppressionState,
)

T0 = datetime(2025, 5, 1, 12, tzinfo=UTC)
TRIGGER = Trigger(event_id="evt-1", type="call_abandoned", channel=Channel.phone)


def action() -> ActionEvent:
    return ActionEvent(
        decision_id="dec-1",
        customer_id="cust-42",
        channel=Channel.phone,
        action=ActionSpec(
            id="route-priority-billing",
            kind=ActionKind.routing,
            category="billing",
            payload={"queue": "billing-priority", "priority": 1},
        ),
        score=0.87,
        reasons=(Reason(code="frustration", detail="Abandoned a billing call after 412 s"),),
        trigger=TRIGGER,
        decided_at=T0,
        expires_at=T0 + timedelta(minutes=30),
        policy_version="2025-05-01.3",
    )


def suppression(until: datetime | None = None) -> SuppressionEvent:
    return SuppressionEvent(
        suppression_id="sup-1",
        customer_id="cust-42",
        state=SuppressionState.active,
        reason=SuppressionReason.open_complaint,
        detail="Complaint case-77812 is open",
        scope=SuppressionScope(kinds=(ActionKind.offer,)),
        trigger=TRIGGER,
        effective_at=T0,
        until=until,
    )


def dead_letter() -> DeadLetter:
    return DeadLetter(
        error=ErrorInfo(code=ErrorCode.channel_mismatch, message="wrong topic", path="channel"),
        original=base64.b64encode(b'{"x":1}').decode(),
        original_size=7,
        source=SourceRef(topic="interactions.web", partition=3, offset=1041),
        rejected_at=T0,
    )


def erasure() -> ErasureRequest:
    return ErasureRequest(
        schema_="erasure/v1", request_id="era-1", customer_id="cust-42", requested_at=T0
    )


@pytest.mark.parametrize(
    "record",
    [action(), suppression(), suppression(T0 + timedelta(days=1)), dead_letter(), erasure()],
)
def test_records_round_trip_through_bytes(record: BaseModel) -> None:
    assert from_json_bytes(type(record), to_json_bytes(record)) == record


@pytest.mark.parametrize(
    ("record", "schema"),
    [
        (action(), "action/v1"),
        (suppression(), "suppression/v1"),
        (dead_letter(), "dead-letter/v1"),
        (erasure(), "erasure/v1"),
    ],
)
def test_every_record_names_its_schema_on_the_wire(record: BaseModel, schema: str) -> None:
    assert orjson.loads(to_json_bytes(record))["schema"] == schema


def test_an_open_ended_suppression_says_until_null() -> None:
    data = orjson.loads(to_json_bytes(suppression()))
    assert "until" in data
    assert data["until"] is None
    assert data["scope"] == {"channels": [], "kinds": ["offer"], "categories": [], "action_ids": []}


def test_dead_letter_path_is_explicit_even_when_null() -> None:
    letter = dead_letter().model_copy(
        update={"error": ErrorInfo(code=ErrorCode.invalid_json, message="bad", path=None)}
    )
    assert orjson.loads(to_json_bytes(letter))["error"]["path"] is None


def test_readers_ignore_fields_added_later_in_v1() -> None:
    data = orjson.loads(to_json_bytes(action()))
    data["audience"] = "new optional field"
    data["action"]["ttl_hint"] = 30
    assert from_json_bytes(ActionEvent, orjson.dumps(data)) == action()


def test_erasure_requests_refuse_unknown_fields() -> None:
    data = orjson.loads(to_json_bytes(erasure()))
    data["customer"] = "typo"
    with pytest.raises(ValidationError):
        from_json_bytes(ErasureRequest, orjson.dumps(data))


def test_an_action_expires_after_it_is_decided() -> None:
    with pytest.raises(ValidationError, match="expires_at must be after decided_at"):
        action().model_validate({**action().model_dump(), "expires_at": T0})


def test_an_action_says_why() -> None:
    with pytest.raises(ValidationError):
        ActionEvent.model_validate({**action().model_dump(), "reasons": []})


def test_suppression_until_follows_effective_at() -> None:
    with pytest.raises(ValidationError, match="until must be after effective_at"):
        suppression(T0)


def test_suppression_in_force() -> None:
    bounded = suppression(T0 + timedelta(hours=1))
    assert not bounded.in_force(T0 - timedelta(seconds=1))
    assert bounded.in_force(T0)
    assert not bounded.in_force(T0 + timedelta(hours=1))
    assert suppression().in_force(T0 + timedelta(days=365))
    lifted = suppression().model_copy(update={"state": SuppressionState.lifted})
    assert not lifted.in_force(T0)


EVERYTHING = SuppressionScope()
EMAIL_OFFERS = SuppressionScope(channels=(ContactChannel.email,), kinds=(ActionKind.offer,))
ONE_CATEGORY = SuppressionScope(categories=("headphones",), action_ids=("offer-a", "offer-b"))


@pytest.mark.parametrize(
    ("scope", "contact", "covered"),
    [
        (EVERYTHING, ("sms", "service", "billing", "a"), True),
        (EMAIL_OFFERS, ("email", "offer", "any", "x"), True),
        (EMAIL_OFFERS, (ContactChannel.email, ActionKind.offer, "any", "x"), True),
        (EMAIL_OFFERS, ("email", "service", "any", "x"), False),
        (EMAIL_OFFERS, ("web", "offer", "any", "x"), False),
        (EMAIL_OFFERS, (Channel.web, "offer", "any", "x"), False),
        (ONE_CATEGORY, ("web", "offer", "headphones", "offer-b"), True),
        (ONE_CATEGORY, ("web", "offer", "headphones", "offer-c"), False),
        (ONE_CATEGORY, ("web", "offer", "cables", "offer-a"), False),
        # An unknown property is covered where the scope narrows on it.
        (EMAIL_OFFERS, ("email", None, None, None), True),
        (ONE_CATEGORY, ("push", "offer", None, "offer-a"), True),
    ],
)
def test_scope_covers(
    scope: SuppressionScope, contact: tuple[str, str | None, str | None, str | None], covered: bool
) -> None:
    assert scope.covers(*contact) is covered


def test_dead_letter_gives_back_the_original_bytes() -> None:
    assert dead_letter().original_bytes() == b'{"x":1}'
    assert dead_letter().model_copy(update={"original": None}).original_bytes() is None


def test_every_error_code_tells_the_sender_what_to_do() -> None:
    assert set(SENDER_ACTION) == set(ErrorCode)

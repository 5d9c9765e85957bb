"""An output read back from Kafka is recognised as the emission the decision would
send again, and as nothing else."""

from __future__ import annotations

from datetime import timedelta

from libs.contract.codec import to_json_bytes
from libs.contract.erasure import ErasureRequest
from libs.contract.suppression import SuppressionState
from services.decision.domain.decide import DecisionResult, decide
from services.decision.domain.emissions import (
    action_emission,
    emissions_in,
    suppression_emission,
)
from services.decision.domain.history import ContactHistory
from services.decision.domain.rules.erasure import erasure_suppression
from tests.unit.decision.support import (
    CUSTOMER,
    T0,
    action,
    catalogue_of,
    consent,
    context,
    event,
    replay,
)


def _decided(event_id: str, at_offset: timedelta = timedelta(0)) -> DecisionResult:
    catalogue, policies = catalogue_of(action("offer.a"))
    item = event("page_view", "web", T0 + at_offset, event_id=event_id)
    ctx = replay([item], context(consent=consent()))
    return decide(item, ctx, ContactHistory.empty(CUSTOMER), catalogue, policies, T0 + at_offset)


def _erasure(request_id: str) -> ErasureRequest:
    return ErasureRequest.model_validate(
        {
            "schema": "erasure/v1",
            "request_id": request_id,
            "customer_id": CUSTOMER,
            "requested_at": T0.isoformat(),
        }
    )


def test_an_action_read_back_is_the_same_emission_decided_again() -> None:
    first = _decided("evt-1").actions[0]
    # Decided again later after a crash: same decision id, other timestamps.
    again = _decided("evt-1", timedelta(seconds=30)).actions[0]
    assert again.decided_at != first.decided_at
    assert emissions_in([to_json_bytes(first)]) == {action_emission(again)}
    assert action_emission(_decided("evt-2").actions[0]) not in emissions_in([to_json_bytes(first)])


def test_a_suppression_read_back_is_the_same_emission_decided_again() -> None:
    sent = erasure_suppression(_erasure("r1"), T0)
    again = erasure_suppression(_erasure("r1"), T0 + timedelta(seconds=5))
    other = erasure_suppression(_erasure("r2"), T0)
    found = emissions_in([to_json_bytes(sent)])
    assert found == {suppression_emission(again)}
    assert suppression_emission(other) not in found


def test_a_suppression_lifted_is_another_emission_than_its_start() -> None:
    started = erasure_suppression(_erasure("r1"), T0)
    lifted = started.model_copy(update={"state": SuppressionState.lifted})
    assert suppression_emission(lifted) not in emissions_in([to_json_bytes(started)])


def test_records_that_are_not_outputs_are_ignored() -> None:
    sent = _decided("evt-1").actions[0]
    values = [
        None,
        b"",
        b"not json",
        b"[1, 2]",
        b'{"schema": "interaction/v1", "event_id": "evt-1"}',
        b'{"schema": "action/v1"}',
        b'{"schema": "suppression/v1", "suppression_id": "s", "state": "active"}',
        to_json_bytes(sent),
    ]
    assert emissions_in(values) == {action_emission(sent)}

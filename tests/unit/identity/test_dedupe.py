from __future__ import annotations

from libs.contract.dlq import SourceRef
from services.intake.identity.dedupe import FirstSighting, Sighting, classify

FIRST = SourceRef(topic="concierge.internal.validated", partition=0, offset=41)


def test_an_unseen_event_id_is_new() -> None:
    assert classify(None, FIRST) is Sighting.NEW


def test_the_same_record_again_is_a_redelivery_and_keeps_its_first_resolution() -> None:
    first = FirstSighting(FIRST, "C-1", False, ("prov:abc",))
    restored = FirstSighting.from_bytes(first.to_bytes())
    assert restored == first
    assert classify(restored, FIRST) is Sighting.REDELIVERY


def test_another_record_with_the_same_event_id_is_a_repeat() -> None:
    first = FirstSighting(FIRST, "C-1", False)
    later = SourceRef(topic="concierge.internal.validated", partition=0, offset=97)
    assert classify(first, later) is Sighting.REPEAT

"""PII key rotation: hashes carry a key id; during a rotation window identity
finds links made under the previous key and moves them to the current one, so
rotating the key cuts no customer's links."""

from __future__ import annotations

import re
from datetime import timedelta

import orjson
import pytest
from prometheus_client import CollectorRegistry
from pydantic import SecretStr, ValidationError

from libs.common.batch import DictTable
from libs.contract.common import Channel
from libs.contract.interaction import PII_HASH_PATTERN
from libs.pipeline.envelopes import ResolvedRecord, decode_resolved
from services.intake.domain.pii import PiiKey, hash_email
from services.intake.domain.validate import Accepted, validate_record
from services.intake.handler import IDENTIFIER_SETS, LINKS, TABLES, IntakeHandler, IntakeMetrics
from services.intake.identity import IdentifierSet, LinkRecord, plan_erasure, plan_identity_update
from services.intake.identity.identifiers import rotated_keys
from services.intake.identity.records import utc_seconds
from services.intake.routing import IntakeLimits
from services.intake.settings import IntakeSettings
from tests.unit.context.factories import T0, event
from tests.unit.intake.support import KEY, accepted, source
from tests.unit.intake.support import NOW as SUPPORT_NOW
from tests.unit.intake.test_handler import NAMES, TTL, Stage, interaction, resolved

OLD = PiiKey(b"old-key-0123456789abcdef", "2025a")
NEW = PiiKey(b"new-key-fedcba9876543210", "2026a")
JANE = "jane@example.com"
NOW = T0 + timedelta(minutes=5)
EARLIER = T0 - timedelta(days=90)


def _email_key(key: PiiKey) -> str:
    return f"email:{key.hash(JANE)}"


def test_a_hash_names_its_key_and_a_key_without_id_keeps_the_old_format() -> None:
    assert re.fullmatch(r"hmac-sha256:2026a:[0-9a-f]{64}", NEW.hash(JANE))
    legacy = PiiKey(KEY).hash(JANE)
    assert legacy == hash_email(KEY, JANE)
    assert re.fullmatch(r"hmac-sha256:[0-9a-f]{64}", legacy)
    # Both are valid in the contract (a compatible v1 addition).
    assert re.fullmatch(PII_HASH_PATTERN, NEW.hash(JANE))
    assert re.fullmatch(PII_HASH_PATTERN, legacy)
    # The same secret under another id is another hash: the id is part of the identifier.
    assert PiiKey(NEW.secret, "other").hash(JANE) != NEW.hash(JANE)


def test_a_malformed_key_id_is_refused() -> None:
    with pytest.raises(ValueError, match="PII key id"):
        PiiKey(KEY, "has:colon")
    with pytest.raises(ValueError, match="PII key id"):
        PiiKey(KEY, "Upper")


def _rotating(record: dict[str, object]) -> Accepted:
    verdict = validate_record(
        orjson.dumps(record),
        topic_channel=Channel.web,
        source=source(),
        now=SUPPORT_NOW,
        pii_key=NEW.secret,
        pii_key_id=NEW.key_id,
        previous_pii_key=OLD,
    )
    assert isinstance(verdict, Accepted), verdict
    return verdict


def test_validation_hashes_with_the_current_key_and_gives_the_previous_keys_hashes() -> None:
    record = interaction(email=JANE, phone="+44 20 7946 0958")
    rotating = _rotating(record)
    identity = rotating.event.identity
    assert identity.email_hash == NEW.hash(JANE)
    assert identity.email is None
    assert rotating.previous_hashes == {
        "email_hash": OLD.hash(JANE),
        "phone_hash": OLD.hash("+442079460958"),
    }
    assert accepted(record).previous_hashes == {}


def test_the_decision_stage_reads_a_resolved_event_whose_hashes_carry_a_key_id() -> None:
    event = _rotating(interaction(email=JANE)).event
    record = ResolvedRecord(kind="event", customer_id="C", provisional=False, event=event)
    decoded = decode_resolved(record.to_bytes())
    assert decoded.event is not None
    assert decoded.event.identity.email_hash == NEW.hash(JANE)


def test_rotated_keys_pair_each_hashed_identifier_with_its_previous_key() -> None:
    verdict = _rotating(interaction(email=JANE, anonymous_id="a"))
    pairs = rotated_keys(verdict.event.identity, verdict.previous_hashes)
    assert pairs == {_email_key(NEW): _email_key(OLD)}


def test_a_link_under_the_previous_key_resolves_and_moves_to_the_current_key() -> None:
    links = {
        "cid:C": LinkRecord("C", False, EARLIER),
        _email_key(OLD): LinkRecord("C", False, EARLIER),
    }
    sets = {"C": IdentifierSet("C", False, ("cid:C", _email_key(OLD)), EARLIER)}
    visit = event("page_view", identity={"email_hash": NEW.hash(JANE)})

    update = plan_identity_update(
        visit, links, sets, NOW, rotated={_email_key(NEW): _email_key(OLD)}
    )

    assert update.resolution.customer_id == "C"
    assert not update.resolution.provisional
    assert update.link_writes == {_email_key(NEW): LinkRecord("C", False, EARLIER)}
    assert update.link_deletes == [_email_key(OLD)]
    assert update.set_writes["C"].keys == ("cid:C", _email_key(NEW))


def test_without_the_previous_key_the_same_visit_starts_a_stranger() -> None:
    links = {_email_key(OLD): LinkRecord("C", False, EARLIER)}
    sets = {"C": IdentifierSet("C", False, (_email_key(OLD),), EARLIER)}
    visit = event("page_view", identity={"email_hash": NEW.hash(JANE)})
    update = plan_identity_update(visit, links, sets, NOW)
    assert update.resolution.customer_id != "C"
    assert update.resolution.provisional


def test_a_provisional_link_under_the_previous_key_merges_into_the_customer_who_logs_in() -> None:
    links = {_email_key(OLD): LinkRecord("P", True, EARLIER)}
    sets = {"P": IdentifierSet("P", True, (_email_key(OLD),), EARLIER)}
    login = event("identify", identity={"customer_id": "C", "email_hash": NEW.hash(JANE)})

    update = plan_identity_update(login, links, sets, NOW, {_email_key(NEW): _email_key(OLD)})

    moved = LinkRecord("C", False, utc_seconds(NOW))
    assert update.resolution.merges == ["P"]
    assert update.link_writes == {"cid:C": moved, _email_key(NEW): moved}
    assert update.link_deletes == [_email_key(OLD)]
    assert update.set_deletes == ["P"]
    assert update.set_writes["C"].keys == ("cid:C", _email_key(NEW))
    assert "P" not in update.set_writes


def test_an_identifier_already_linked_under_the_current_key_ignores_the_previous_one() -> None:
    links = {
        _email_key(NEW): LinkRecord("C", False, EARLIER),
        _email_key(OLD): LinkRecord("OTHER", False, EARLIER),
    }
    sets = {"C": IdentifierSet("C", False, (_email_key(NEW),), EARLIER)}
    visit = event("page_view", identity={"email_hash": NEW.hash(JANE)})
    update = plan_identity_update(visit, links, sets, NOW, {_email_key(NEW): _email_key(OLD)})
    assert update.resolution.customer_id == "C"
    assert update.link_deletes == []
    assert update.link_writes == {}


def _stage(limits: IntakeLimits, tables: dict[str, DictTable]) -> Stage:
    stage = Stage()
    stage.handler = IntakeHandler(NAMES, limits, TTL, IntakeMetrics.create(CollectorRegistry()))
    stage.tables = tables
    return stage


def test_through_the_handler_links_made_before_a_rotation_resolve_after_it_and_erase() -> None:
    tables = {name: DictTable() for name in TABLES}
    before = _stage(IntakeLimits(pii_key=OLD.secret, pii_key_id=OLD.key_id), tables)
    before.send(interaction("identify", event_id="e1", customer_id="C", email=JANE))
    assert _email_key(OLD) in tables[LINKS].data

    rotating = _stage(
        IntakeLimits(pii_key=NEW.secret, pii_key_id=NEW.key_id, previous_pii_key=OLD), tables
    )
    [(key, record)] = resolved(rotating.send(interaction(event_id="e2", email=JANE)))
    assert (key, record.customer_id, record.provisional) == (b"C", "C", False)
    assert record.event is not None
    assert record.event.identity.email_hash == NEW.hash(JANE)
    # The link moved: after the window, the new key alone still finds C.
    assert _email_key(NEW) in tables[LINKS].data
    assert _email_key(OLD) not in tables[LINKS].data

    after = _stage(IntakeLimits(pii_key=NEW.secret, pii_key_id=NEW.key_id), tables)
    [(_, later)] = resolved(after.send(interaction(event_id="e3", email=JANE)))
    assert later.customer_id == "C"

    # Erasure finds the moved link through C's identifier set.
    sets = {"C": IdentifierSet.from_bytes(tables[IDENTIFIER_SETS].snapshot()["C"])}
    links = {k: LinkRecord.from_bytes(v) for k, v in tables[LINKS].snapshot().items()}
    assert _email_key(NEW) in plan_erasure("C", links, sets).link_deletes


def test_settings_refuse_a_rotation_that_changes_nothing() -> None:
    secret = SecretStr("k" * 20)
    with pytest.raises(ValidationError, match="rotation needs a new key or a new id"):
        IntakeSettings(
            pii_key=secret, pii_key_id="a", previous_pii_key=secret, previous_pii_key_id="a"
        )
    with pytest.raises(ValidationError, match="without previous_pii_key"):
        IntakeSettings(pii_key=secret, previous_pii_key_id="a")
    with pytest.raises(ValidationError, match="pii_key_id"):
        IntakeSettings(pii_key=secret, pii_key_id="No:Good")
    # Adopting key ids for an existing key is a rotation of the id alone.
    adopting = IntakeSettings(pii_key=secret, pii_key_id="k1", previous_pii_key=secret)
    previous = adopting.previous_key()
    assert previous is not None
    assert previous.hash(JANE) == hash_email(b"k" * 20, JANE)

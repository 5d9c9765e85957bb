"""Table bookkeeping around a resolution: absorbed provisional identifiers, sets, erasure."""

from __future__ import annotations

from datetime import timedelta

from services.intake.identity import (
    MAX_IDENTIFIERS_PER_CUSTOMER,
    IdentifierSet,
    LinkRecord,
    erase_links,
    identifier_set_is_expired,
    link_is_expired,
    plan_erasure,
    plan_identity_update,
)
from services.intake.identity.records import utc_seconds
from tests.unit.context.factories import T0, event

NOW = T0 + timedelta(minutes=5)
EARLIER = T0 - timedelta(days=1)
EMAIL = "email:hmac-sha256:" + "e" * 64


def test_merging_a_provisional_customer_moves_all_its_identifiers_and_drops_its_set() -> None:
    # The visitor typed an email into a newsletter form while anonymous, then logged in.
    links = {
        "anon:a": LinkRecord("P", True, EARLIER),
        EMAIL: LinkRecord("P", True, EARLIER),
        "dev:old": LinkRecord("D", False, EARLIER),  # listed by P, since re-linked to D
    }
    sets = {"P": IdentifierSet("P", True, ("anon:a", EMAIL, "dev:old"), EARLIER)}
    login = event("identify", identity={"customer_id": "C", "anonymous_id": "a"})

    update = plan_identity_update(login, links, sets, NOW)

    moved = LinkRecord("C", False, utc_seconds(NOW))
    assert update.resolution.merges == ["P"]
    assert update.link_writes == {"cid:C": moved, "anon:a": moved, EMAIL: moved}
    assert update.set_deletes == ["P"]
    assert update.set_writes["C"].keys == ("cid:C", "anon:a", EMAIL)
    assert update.set_writes["C"].provisional is False


def test_nothing_to_write_for_a_known_visitor() -> None:
    links = {"cid:C": LinkRecord("C", False, EARLIER), "anon:a": LinkRecord("C", False, EARLIER)}
    sets = {"C": IdentifierSet("C", False, ("cid:C", "anon:a"), EARLIER)}
    update = plan_identity_update(
        event("page_view", identity={"customer_id": "C", "anonymous_id": "a"}), links, sets, NOW
    )
    assert update.link_writes == {}
    assert update.set_writes == {}
    assert update.link_deletes == []


def test_a_new_visitor_gets_a_provisional_set() -> None:
    update = plan_identity_update(event("page_view", identity={"anonymous_id": "a"}), {}, {}, NOW)
    target = update.resolution.customer_id
    assert update.set_writes == {target: IdentifierSet(target, True, ("anon:a",), utc_seconds(NOW))}


def test_an_overflowing_set_evicts_old_cookies_first_and_unlinks_them() -> None:
    cookies = tuple(f"anon:{n}" for n in range(MAX_IDENTIFIERS_PER_CUSTOMER - 2))
    keys = ("cid:C", EMAIL, *cookies)
    links = {key: LinkRecord("C", False, EARLIER) for key in keys}
    links["anon:0"] = LinkRecord("D", False, EARLIER)  # stale entry: now someone else's
    sets = {"C": IdentifierSet("C", False, keys, EARLIER)}
    visit = event(
        "page_view", identity={"customer_id": "C", "anonymous_id": "new", "device_id": "dev"}
    )

    update = plan_identity_update(visit, links, sets, NOW)

    kept = update.set_writes["C"].keys
    assert len(kept) == MAX_IDENTIFIERS_PER_CUSTOMER
    assert kept[:2] == ("cid:C", EMAIL)
    assert {"anon:new", "dev:dev"} <= set(kept)
    assert not {"anon:0", "anon:1"} & set(kept)
    # Only the evicted key still pointing at C is unlinked; D keeps anon:0.
    assert update.link_deletes == ["anon:1"]


def test_erasure_tombstones_only_links_still_owned_by_the_customer() -> None:
    links = {
        "cid:C": LinkRecord("C", False, EARLIER),
        "anon:a": LinkRecord("C", False, EARLIER),
        "dev:tablet": LinkRecord("D", False, EARLIER),  # a sibling logged in since
    }
    sets = {"C": IdentifierSet("C", False, ("cid:C", "anon:a", "dev:tablet"), EARLIER)}

    erasure = plan_erasure("C", links, sets)

    assert erasure.link_deletes == ["cid:C", "anon:a"]
    assert erasure.set_deletes == ["C"]


def test_erasure_without_a_set_still_finds_the_customer_key() -> None:
    erasure = plan_erasure("C", {"cid:C": LinkRecord("C", False, EARLIER)}, {})
    assert erasure.link_deletes == ["cid:C"]
    assert erasure.set_deletes == []


def test_erase_links_skips_unlinked_keys() -> None:
    assert erase_links("C", {"anon:a": None, "dev:d": LinkRecord("C", False, EARLIER)}) == ["dev:d"]


def test_only_provisional_records_expire() -> None:
    old = NOW - timedelta(days=31)
    assert link_is_expired(LinkRecord("P", True, old), NOW)
    assert not link_is_expired(LinkRecord("C", False, old), NOW)
    assert not link_is_expired(LinkRecord("P", True, NOW - timedelta(days=29)), NOW)
    assert identifier_set_is_expired(IdentifierSet("P", True, (), old), NOW)
    assert not identifier_set_is_expired(IdentifierSet("C", False, (), old), NOW)


def test_records_round_trip_through_bytes() -> None:
    link = LinkRecord("C", False, utc_seconds(NOW))
    identifier_set = IdentifierSet("C", False, ("cid:C", "anon:a"), utc_seconds(NOW))
    assert LinkRecord.from_bytes(link.to_bytes()) == link
    assert IdentifierSet.from_bytes(identifier_set.to_bytes()) == identifier_set
    assert (
        link.to_bytes()
        == b'{"customer_id":"C","provisional":false,"linked_at":"2025-05-01T12:05:00Z"}'
    )


def test_a_known_customer_never_becomes_provisional_again() -> None:
    known = IdentifierSet("C", False, ("cid:C",), EARLIER)
    updated, evicted = known.with_keys(["anon:a"], provisional=True, now=NOW)
    assert updated.provisional is False
    assert evicted == []

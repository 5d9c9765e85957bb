"""Every identity rule, one row each: given the current links, what does an event resolve to?"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import pytest

from services.intake.identity import (
    PROVISIONAL_REFRESH,
    LinkConflict,
    LinkRecord,
    provisional_customer_id,
    resolve,
)
from services.intake.identity.records import utc_seconds
from tests.unit.context.factories import T0, event

NOW = T0 + timedelta(minutes=5)
EARLIER = T0 - timedelta(days=1)


def known(customer_id: str) -> LinkRecord:
    return LinkRecord(customer_id, False, EARLIER)


def provisional(customer_id: str) -> LinkRecord:
    return LinkRecord(customer_id, True, EARLIER)


@dataclass(frozen=True)
class Case:
    name: str
    type: str
    identity: dict[str, str]
    links: dict[str, LinkRecord]
    customer_id: str
    is_provisional: bool
    written: set[str]
    merges: list[str] = field(default_factory=list)
    conflicts: list[LinkConflict] = field(default_factory=list)


PROV_ANON = provisional_customer_id("anon:a")
PROV_DEV = provisional_customer_id("dev:d")

CASES = [
    # 1. Target
    Case(
        "explicit customer_id is authoritative and links every new identifier",
        "page_view",
        {"customer_id": "C", "anonymous_id": "a", "email_hash": "hmac-sha256:" + "e" * 64},
        {},
        "C",
        False,
        {"cid:C", "anon:a", "email:hmac-sha256:" + "e" * 64},
    ),
    Case(
        "only unknown identifiers: provisional id from the only one",
        "page_view",
        {"anonymous_id": "a"},
        {},
        PROV_ANON,
        True,
        {"anon:a"},
    ),
    Case(
        "only unknown identifiers: provisional id from the strongest (device over cookie)",
        "screen_view",
        {"anonymous_id": "a", "device_id": "d"},
        {},
        PROV_DEV,
        True,
        {"dev:d", "anon:a"},
    ),
    Case(
        "known customer beats a provisional one even when its identifier is weaker",
        "page_view",
        {"anonymous_id": "a", "device_id": "d"},
        {"anon:a": known("C"), "dev:d": provisional("P")},
        "C",
        False,
        {"dev:d"},
        merges=["P"],
    ),
    Case(
        "strongest known identifier wins between two known customers",
        "store_visit",
        {"loyalty_id": "L", "device_id": "d"},
        {"loy:L": known("C"), "dev:d": known("D")},
        "C",
        False,
        set(),
        conflicts=[LinkConflict("dev:d", "D", relinked=False)],
    ),
    Case(
        "an already linked visitor resolves without writes",
        "page_view",
        {"anonymous_id": "a"},
        {"anon:a": provisional("P")},
        "P",
        True,
        set(),
    ),
    # 2-3. Who may link what
    Case(
        "non-identify: a known customer gains an unknown cookie seen with them",
        "page_view",
        {"email_hash": "hmac-sha256:" + "1" * 64, "anonymous_id": "a"},
        {"email:hmac-sha256:" + "1" * 64: known("C")},
        "C",
        False,
        {"anon:a"},
    ),
    Case(
        "non-identify: a known customer does not gain an unknown personal identifier",
        "call_started",
        {"email_hash": "hmac-sha256:" + "1" * 64, "phone_hash": "hmac-sha256:" + "2" * 64},
        {"email:hmac-sha256:" + "1" * 64: known("C")},
        "C",
        False,
        set(),
    ),
    Case(
        "non-identify: a shared cookie does not pull an email into its customer",
        "page_view",
        {"anonymous_id": "a", "email_hash": "hmac-sha256:" + "1" * 64},
        {"anon:a": known("C")},
        "C",
        False,
        set(),
    ),
    Case(
        "non-identify, all unknown: anchor and devices link, other personal ids wait",
        "store_visit",
        {"phone_hash": "hmac-sha256:" + "2" * 64, "loyalty_id": "L"},
        {},
        provisional_customer_id("phone:hmac-sha256:" + "2" * 64),
        True,
        {"phone:hmac-sha256:" + "2" * 64},
    ),
    Case(
        "identify without customer_id links personal identifiers to the resolved customer",
        "identify",
        {"email_hash": "hmac-sha256:" + "1" * 64, "phone_hash": "hmac-sha256:" + "2" * 64},
        {"email:hmac-sha256:" + "1" * 64: known("C")},
        "C",
        False,
        {"phone:hmac-sha256:" + "2" * 64},
    ),
    Case(
        "non-identify with customer_id links unknown personal identifiers (asserted)",
        "purchase",
        {"customer_id": "C", "loyalty_id": "L"},
        {"cid:C": known("C")},
        "C",
        False,
        {"loy:L"},
    ),
    # 4. Provisional identifiers move into a known customer
    Case(
        "login: identify with customer_id merges the cookie's provisional history",
        "identify",
        {"customer_id": "C", "anonymous_id": "a"},
        {"cid:C": known("C"), "anon:a": provisional(PROV_ANON)},
        "C",
        False,
        {"anon:a"},
        merges=[PROV_ANON],
    ),
    Case(
        "first login ever: customer id and cookie linked, cookie history merged",
        "identify",
        {"customer_id": "C", "anonymous_id": "a"},
        {"anon:a": provisional(PROV_ANON)},
        "C",
        False,
        {"cid:C", "anon:a"},
        merges=[PROV_ANON],
    ),
    Case(
        "non-identify with customer_id also merges provisional history (asserted)",
        "page_view",
        {"customer_id": "C", "anonymous_id": "a"},
        {"cid:C": known("C"), "anon:a": provisional(PROV_ANON)},
        "C",
        False,
        {"anon:a"},
        merges=[PROV_ANON],
    ),
    Case(
        "a provisional customer is listed once however many of its identifiers move",
        "identify",
        {"customer_id": "C", "device_id": "d", "anonymous_id": "a"},
        {"dev:d": provisional("P"), "anon:a": provisional("P")},
        "C",
        False,
        {"cid:C", "dev:d", "anon:a"},
        merges=["P"],
    ),
    Case(
        "non-identify: an unasserted personal identifier of a provisional stays put",
        "call_started",
        {"email_hash": "hmac-sha256:" + "1" * 64, "phone_hash": "hmac-sha256:" + "2" * 64},
        {
            "email:hmac-sha256:" + "1" * 64: known("C"),
            "phone:hmac-sha256:" + "2" * 64: provisional("P"),
        },
        "C",
        False,
        set(),
    ),
    Case(
        "two provisional customers are never merged into each other",
        "screen_view",
        {"device_id": "d", "anonymous_id": "a"},
        {"dev:d": provisional("P2"), "anon:a": provisional("P1")},
        "P2",
        True,
        set(),
    ),
    # 5. Identifiers of another known customer
    Case(
        "non-identify with customer_id does not steal another customer's device",
        "page_view",
        {"customer_id": "C", "device_id": "d"},
        {"cid:C": known("C"), "dev:d": known("D")},
        "C",
        False,
        set(),
        conflicts=[LinkConflict("dev:d", "D", relinked=False)],
    ),
    Case(
        "identify with customer_id re-links a shared device: last login wins, no merge",
        "identify",
        {"customer_id": "C", "device_id": "d"},
        {"cid:C": known("C"), "dev:d": known("D")},
        "C",
        False,
        {"dev:d"},
        conflicts=[LinkConflict("dev:d", "D", relinked=True)],
    ),
    Case(
        "identify with customer_id re-links a shared cookie too",
        "identify",
        {"customer_id": "C", "anonymous_id": "a"},
        {"cid:C": known("C"), "anon:a": known("D")},
        "C",
        False,
        {"anon:a"},
        conflicts=[LinkConflict("anon:a", "D", relinked=True)],
    ),
    Case(
        "identify without customer_id never steals from a known customer",
        "identify",
        {"email_hash": "hmac-sha256:" + "1" * 64, "device_id": "d"},
        {"email:hmac-sha256:" + "1" * 64: known("C"), "dev:d": known("D")},
        "C",
        False,
        set(),
        conflicts=[LinkConflict("dev:d", "D", relinked=False)],
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_resolution_rule(case: Case) -> None:
    resolution = resolve(event(case.type, identity=case.identity), case.links, NOW)

    assert resolution.customer_id == case.customer_id
    assert resolution.provisional is case.is_provisional
    assert set(resolution.links) == case.written
    assert resolution.merges == case.merges
    assert resolution.conflicts == case.conflicts
    for link in resolution.links.values():
        assert link == LinkRecord(case.customer_id, case.is_provisional, utc_seconds(NOW))


def test_merges_only_ever_name_provisional_customers() -> None:
    links = {"cid:C": known("C"), "dev:d": known("D"), "anon:a": provisional("P")}
    resolution = resolve(
        event("identify", identity={"customer_id": "C", "device_id": "d", "anonymous_id": "a"}),
        links,
        NOW,
    )
    assert resolution.merges == ["P"]
    assert "D" not in resolution.merges


def test_active_provisional_links_are_refreshed_weekly_not_per_event() -> None:
    fresh = LinkRecord("P", True, NOW - PROVISIONAL_REFRESH + timedelta(hours=1))
    stale = LinkRecord("P", True, NOW - PROVISIONAL_REFRESH)
    page = event("page_view", identity={"anonymous_id": "a"})

    assert resolve(page, {"anon:a": fresh}, NOW).links == {}
    assert resolve(page, {"anon:a": stale}, NOW).links == {
        "anon:a": LinkRecord("P", True, utc_seconds(NOW))
    }


def test_known_links_are_never_rewritten_by_later_events() -> None:
    resolution = resolve(
        event("page_view", identity={"customer_id": "C", "anonymous_id": "a"}),
        {"cid:C": known("C"), "anon:a": known("C")},
        NOW + timedelta(days=365),
    )
    assert resolution.links == {}


def test_missing_entries_in_links_mean_unlinked() -> None:
    resolution = resolve(event("page_view", identity={"anonymous_id": "a"}), {}, NOW)
    assert resolution.customer_id == PROV_ANON


def test_provisional_ids_are_deterministic_and_namespaced() -> None:
    assert provisional_customer_id("anon:a") == provisional_customer_id("anon:a")
    assert provisional_customer_id("anon:a") != provisional_customer_id("dev:a")
    assert PROV_ANON.startswith("prov:")
    assert len(PROV_ANON) == len("prov:") + 24

"""Rule 4a: N offers per channel per day, M across channels; a cap emits a suppression."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from libs.context.model import Profile
from services.decision.domain.clock import customer_zone, day_window
from services.decision.domain.history import ContactHistory, SentAction
from services.decision.domain.policies import CapPolicy, Policies
from services.decision.domain.rules.caps import cap_exclusion
from tests.unit.decision.support import T0, action, catalogue_of, consent, context, event, run

PARIS = ZoneInfo("Europe/Paris")


def test_day_window_follows_the_local_calendar() -> None:
    start, end = day_window(datetime(2025, 5, 1, 22, 30, tzinfo=UTC), PARIS)  # 00:30 on 2 May
    assert start == datetime(2025, 5, 2, tzinfo=PARIS)
    assert end == datetime(2025, 5, 3, tzinfo=PARIS)
    assert day_window(datetime(2025, 3, 30, 12, tzinfo=UTC), PARIS)[1] - day_window(
        datetime(2025, 3, 30, 12, tzinfo=UTC), PARIS
    )[0] <= timedelta(hours=24)


@pytest.mark.parametrize(
    ("timezone", "use", "expected"),
    [
        ("Europe/Paris", True, "Europe/Paris"),
        ("Not/AZone", True, "UTC"),
        ("Europe/Paris", False, "UTC"),
    ],
)
def test_customer_zone(timezone: str, use: bool, expected: str) -> None:
    policy = CapPolicy(timezone="UTC", use_customer_timezone=use)
    assert str(customer_zone(context(profile=Profile(timezone=timezone)), policy)) == expected


def sent(channel: str, hours: float, kind: str = "offer") -> SentAction:
    return SentAction(
        decision_id="d",
        action_id="a",
        kind=kind,
        category="c",
        channel=channel,
        at=T0 + timedelta(hours=hours),
    )


@pytest.mark.parametrize(
    ("history", "kind", "channel", "code"),
    [
        ((), "offer", "web", None),
        ((sent("web", 0),), "offer", "web", None),
        ((sent("web", 0), sent("web", 1)), "offer", "web", "frequency_cap"),
        ((sent("web", 0), sent("web", 1)), "offer", "mobile", None),
        ((sent("web", 0), sent("web", 1)), "service", "web", None),  # help is not capped
        ((sent("web", 0), sent("phone", 1), sent("store", 1)), "offer", "mobile", "frequency_cap"),
        ((sent("web", -11), sent("web", -10.5)), "offer", "web", None),  # yesterday
        ((sent("web", 0, "service"), sent("web", 1, "service")), "offer", "web", None),
    ],
)
def test_cap_exclusion(
    history: tuple[SentAction, ...], kind: str, channel: str, code: str | None
) -> None:
    result = cap_exclusion(
        kind,
        channel,
        ContactHistory(customer_id="c1", sent=history),
        CapPolicy(timezone="UTC"),
        T0 + timedelta(hours=2),
        ZoneInfo("UTC"),
    )
    assert (None if result is None else result.code) == code


CATALOGUE, POLICIES = catalogue_of(
    *[action(f"offer.{i}", value=10 + i, cooldown="1s") for i in range(6)],
    policies=Policies.model_validate({"caps": {"timezone": "UTC"}}),
)


def test_caps_hold_and_emit_a_suppression_until_the_end_of_the_day() -> None:
    views = [event("page_view", "web", T0 + timedelta(minutes=i)) for i in range(3)] + [
        event("app_open", "mobile", T0 + timedelta(minutes=10 + i)) for i in range(3)
    ]
    results = run(views, CATALOGUE, POLICIES, ctx=context(consent=consent()))
    offers = [(e.channel.value, len(r.actions)) for e, r in results]
    assert offers == [
        ("web", 1),
        ("web", 1),
        ("web", 0),
        ("mobile", 1),
        ("mobile", 0),
        ("mobile", 0),
    ]
    caps = [(s.scope.channels, s.until) for _, r in results for s in r.suppressions]
    midnight = datetime(2025, 5, 2, tzinfo=ZoneInfo("UTC"))
    assert caps == [((("web"),), midnight), ((), midnight)]
    web_cap = results[1][1].suppressions[0]
    assert web_cap.reason.value == "frequency_cap"
    assert "2 offers on web today" in web_cap.detail
    excluded = results[2][1].explanation.candidates[0].excluded
    assert excluded is not None
    assert excluded.code in ("frequency_cap", "suppressed")


def test_the_next_day_starts_afresh() -> None:
    first = run(
        [event("page_view", "web", T0 + timedelta(minutes=i)) for i in range(2)],
        CATALOGUE,
        POLICIES,
        ctx=context(consent=consent()),
    )
    history = first[-1][1].history
    tomorrow = T0 + timedelta(days=1)
    [(_, result)] = run(
        [event("page_view", "web", tomorrow)],
        CATALOGUE,
        POLICIES,
        ctx=context(consent=consent()),
        history=history,
    )
    assert len(result.actions) == 1

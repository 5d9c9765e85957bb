"""Rule 3: giving up gets help, here or on the next channel, with the context."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from services.decision.domain.policies import FrustrationPolicy
from services.decision.domain.rules.frustration import (
    Finding,
    describe,
    find_frustrations,
    frustration_exclusion,
)
from tests.unit.decision.support import T0, consent, context, event, run, starter

POLICY = FrustrationPolicy()  # failed_checkout: 2 within 30m, carry over 2h


def minutes(*values: int) -> tuple[datetime, ...]:
    return tuple(T0 + timedelta(minutes=value) for value in values)


@pytest.mark.parametrize(
    ("times", "now", "expected"),
    [
        (minutes(0), 0, None),  # once is not a pattern
        (minutes(0, 4), 4, (2, 0, 4)),
        (minutes(0, 4), 60, (2, 0, 4)),  # carried over to whatever comes next
        (minutes(0, 4), 4 + 121, None),  # ... for two hours
        (minutes(0, 31), 31, None),  # too far apart
        (minutes(0, 31, 40), 40, (2, 31, 40)),
        (minutes(0, 10, 20, 25), 25, (4, 0, 25)),  # the whole burst is counted
        (minutes(0, 4, 200), 200, None),  # the burst ended long ago, a single new failure
        (minutes(0, 4, 9), 5, (2, 0, 4)),  # occurrences after now are ignored
    ],
)
def test_find_frustrations(
    times: tuple[datetime, ...], now: int, expected: tuple[int, int, int] | None
) -> None:
    found = find_frustrations({"failed_checkout": times}, POLICY, T0 + timedelta(minutes=now))
    if expected is None:
        assert found == ()
    else:
        count, first, last = expected
        assert found == (Finding("failed_checkout", count, *minutes(first, last)),)


def test_thresholds_per_signal() -> None:
    found = find_frustrations(
        {"abandoned_call": minutes(0), "empty_search": minutes(0, 1)}, POLICY, T0
    )
    assert [item.signal for item in found] == ["abandoned_call"]  # 1 call, but 3 searches needed


@pytest.mark.parametrize(
    ("finding", "now", "channel", "text"),
    [
        (
            Finding("failed_checkout", 2, *minutes(0, 4)),
            4,
            None,
            "checkout failed twice in 4 minutes",
        ),
        (
            Finding("failed_checkout", 3, *minutes(0, 4)),
            30,
            "web",
            "checkout failed 3 times in 4 minutes (on web, 26 minutes ago)",
        ),
        (
            Finding("abandoned_call", 1, *minutes(0, 0)),
            0,
            "phone",
            "hung up once before reaching anyone (on phone)",
        ),
        (
            Finding("empty_search", 3, *minutes(0, 2)),
            2,
            None,
            "3 searches found nothing in 2 minutes",
        ),
        (Finding("ivr_loop", 1, *minutes(0, 0)), 0, None, "went round the phone menu"),
    ],
)
def test_describe(finding: Finding, now: int, channel: str | None, text: str) -> None:
    assert describe(finding, T0 + timedelta(minutes=now), channel) == text


@pytest.mark.parametrize(
    ("kind", "excluded"), [("offer", True), ("info", True), ("service", False), ("routing", False)]
)
def test_only_help_while_frustrated(kind: str, excluded: bool) -> None:
    finding = Finding("failed_checkout", 2, *minutes(0, 4))
    assert (frustration_exclusion(kind, [finding], POLICY) is not None) is excluded
    assert frustration_exclusion(kind, [], POLICY) is None


def test_a_call_after_failed_web_checkouts_is_routed_with_that_context() -> None:
    config = starter()
    events = [
        event("checkout_failed", "web", T0, reason="card_declined"),
        event("checkout_failed", "web", T0 + timedelta(minutes=4), reason="card_declined"),
        event("call_started", "phone", T0 + timedelta(minutes=20)),
    ]
    results = run(events, config.catalogue, config.policies, ctx=context(consent=consent()))
    on_web = results[1][1].actions
    assert [a.channel.value for a in on_web] == ["web"]
    assert on_web[0].action.kind.value in ("service", "routing")
    [call] = results[2][1].actions
    assert call.channel.value == "phone"
    assert call.action.id == "routing.phone_priority_support"
    assert call.action.payload["queue"] == "priority-support"
    assert call.action.payload["priority"] == "high"
    [summary] = call.action.payload["context"]["frustration"]
    assert (summary["signal"], summary["count"], summary["channel"]) == (
        "failed_checkout",
        2,
        "web",
    )
    details = [r.detail for r in call.reasons if r.code == "frustration"]
    assert details == ["checkout failed twice in 4 minutes (on web, 16 minutes ago)"]


def test_no_offers_while_frustrated_even_with_consent() -> None:
    config = starter()
    events = [
        event("checkout_failed", "web", T0),
        event("checkout_failed", "web", T0 + timedelta(minutes=1)),
        *[
            event("page_view", "web", T0 + timedelta(minutes=2 + i), category="phones")
            for i in range(5)
        ],
    ]
    results = run(events, config.catalogue, config.policies, ctx=context(consent=consent()))
    kinds = [a.action.kind.value for _, result in results for a in result.actions]
    assert kinds
    assert "offer" not in kinds

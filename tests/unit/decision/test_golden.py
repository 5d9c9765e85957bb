"""Golden outputs: the optimised hot path decides exactly as the original one did.

``golden_decisions.json`` holds one SHA-256 per decision over everything a
decision emits (action and suppression events as ``to_json_bytes``, the
explanation, the updated contact history), recorded with the implementation
before the performance work (closures for conditions, lazy explanation text,
``model_construct`` for the output events). Any change to actions,
suppressions, reasons, scores or ids changes a digest; the failure names the
first case that differs. Regenerate only for an intended behaviour change:

    .venv/bin/python -m tests.unit.decision.test_golden
"""

from __future__ import annotations

import hashlib
import json
import random
from datetime import timedelta
from functools import cache
from pathlib import Path

import orjson

from bench.decision_bench import NOW, generated_catalogue, realistic_case
from libs.contract.action import ActionEvent
from libs.contract.codec import to_json_bytes
from libs.contract.common import Channel
from services.decision.domain.catalogue import Catalogue
from services.decision.domain.decide import decide, next_best_action
from services.decision.domain.facts import DecisionFacts
from services.decision.domain.policies import Policies
from tests.unit.decision.support import starter

GOLDEN = Path(__file__).with_name("golden_decisions.json")
CASES = 150  # per catalogue; each case also replays its whole history through ``decide``


def _digest(parts: list[bytes]) -> str:
    return hashlib.sha256(b"\x00".join(parts)).hexdigest()


def _record(catalogue: Catalogue, policies: Policies, seed: int) -> list[str]:
    rng = random.Random(seed)
    digests = []
    for number in range(CASES):
        case = realistic_case(rng, number, catalogue, policies)
        # The trigger itself, a minute later (history updated), and a repeat.
        result = decide(case.event, case.context, case.history, catalogue, policies, NOW)
        later = decide(
            case.event.model_copy(update={"event_id": f"{case.event.event_id}-b"}),
            case.context,
            result.history,
            catalogue,
            policies,
            NOW + timedelta(minutes=1),
        )
        repeat = decide(case.event, case.context, result.history, catalogue, policies, NOW)
        parts: list[bytes] = []
        for outcome in (result, later, repeat):
            parts.extend(to_json_bytes(action) for action in outcome.actions)
            parts.extend(to_json_bytes(item) for item in outcome.suppressions)
            parts.append(orjson.dumps(outcome.explanation.to_dict()))
            parts.append(outcome.history.to_json())
        for channel in Channel:
            answer = next_best_action(case.context, case.history, channel, NOW, catalogue, policies)
            if answer.action is not None:
                parts.append(to_json_bytes(answer.action))
            parts.append(orjson.dumps(answer.explanation.to_dict()))
        digests.append(_digest(parts))
    return digests


@cache
def _current() -> dict[str, list[str]]:
    config = starter()
    large = generated_catalogue(120, config.policy_version)
    templated = generated_catalogue(120, config.policy_version, templated=True)
    return {
        "starter": _record(config.catalogue, config.policies, seed=11),
        "generated": _record(large, config.policies, seed=12),
        "templated": _record(templated, config.policies, seed=13),
    }


def test_decisions_match_the_recorded_golden_outputs() -> None:
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    current = _current()
    assert golden.keys() == current.keys()
    for name, digests in golden.items():
        assert len(current[name]) == len(digests)
        for index, (expected, got) in enumerate(zip(digests, current[name], strict=True)):
            assert got == expected, f"{name} case {index} differs from the golden output"


def test_compiled_conditions_agree_with_the_interpreted_ones() -> None:
    """``Condition.check`` (closures) answers as ``Condition.holds`` (the model) does."""
    config = starter()
    large = generated_catalogue(120, config.policy_version)
    conditions = [
        condition
        for catalogue in (config.catalogue, large)
        for action in catalogue.actions
        for condition in (
            *([action.eligibility] if action.eligibility is not None else []),
            *(rule.when for rule in action.suitability),
        )
    ]
    rng = random.Random(3)
    compared = 0
    for number in range(40):
        case = realistic_case(rng, number, config.catalogue, config.policies)
        for event_type in (case.event.type, None):
            facts = DecisionFacts(
                case.context,
                case.event.channel.value,
                NOW,
                config.policies.frustration,
                event_type,
                case.event.attributes,
            )
            for condition in conditions:
                assert condition.check(facts) is condition.holds(facts), condition
                compared += 1
    assert compared > 1000


def test_action_events_serialise_as_if_validated() -> None:
    """Events built without validation are equal to, and serialise like, validated ones."""
    config = starter()
    rng = random.Random(5)
    seen = 0
    for number in range(60):
        case = realistic_case(rng, number, config.catalogue, config.policies)
        result = decide(
            case.event, case.context, case.history, config.catalogue, config.policies, NOW
        )
        for action in result.actions:
            validated = ActionEvent.model_validate_json(to_json_bytes(action))
            assert validated == action
            assert to_json_bytes(validated) == to_json_bytes(action)
            assert action.model_dump() == validated.model_dump()
            seen += 1
        for item in result.suppressions:
            again = type(item).model_validate_json(to_json_bytes(item))
            assert again == item
            assert to_json_bytes(again) == to_json_bytes(item)
    assert seen > 10


if __name__ == "__main__":
    GOLDEN.write_text(json.dumps(_current(), indent=0) + "\n", encoding="utf-8")
    print(f"wrote {GOLDEN}")

from __future__ import annotations

import random

from bench.decision_bench import CONFIG_DIR, NOW, decision_class, measure, realistic_case
from services.decision.domain.catalogue import load_config
from services.decision.domain.decide import decide


def test_each_decision_is_classed_by_the_work_it_did() -> None:
    config = load_config(CONFIG_DIR / "catalogue.yaml", CONFIG_DIR / "policies.yaml")
    rng = random.Random(1)
    classes: dict[str, set[str]] = {}
    for number in range(150):
        case = realistic_case(rng, number, config.catalogue, config.policies)
        result = decide(
            case.event, case.context, case.history, config.catalogue, config.policies, NOW
        )
        ids = {action.action.id for action in result.actions}
        classes.setdefault(decision_class(result), set()).update(ids)
    assert set(classes) == {"builds a briefing", "emits an action", "emits no action"}
    assert "routing.store_associate_alert" in classes["builds a briefing"]
    assert "routing.store_associate_alert" not in classes["emits an action"]
    assert classes["emits no action"] == set()


def test_percentiles_are_also_given_per_class_from_the_same_samples() -> None:
    config = load_config(CONFIG_DIR / "catalogue.yaml", CONFIG_DIR / "policies.yaml")
    cases = [
        realistic_case(random.Random(2), number, config.catalogue, config.policies)
        for number in range(4)
    ]
    result = measure(
        "noop",
        lambda case, catalogue, policies: None,
        cases,
        config.catalogue,
        config.policies,
        decisions=10,
        classes=["a", "b", "b", "b"],
    )
    by_class = result["by_class"]
    assert list(by_class) == ["a", "b"]
    # Ten decisions over four cases: cases 0, 1 three times each, cases 2, 3 twice.
    assert by_class["a"]["share"] == 0.3
    assert by_class["b"]["share"] == 0.7
    assert by_class["a"]["max_us"] <= result["max_us"]

"""Loading the catalogue and policies: the starter files, and errors that say where."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from libs.contract.common import ActionKind, Channel
from services.decision.domain.catalogue import ConfigError, effective_ttl, load_config
from tests.unit.decision.support import CONFIG_DIR, action, starter


def write(tmp_path: Path, name: str, data: Any) -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data), encoding="utf-8")
    return path


def load(tmp_path: Path, actions: Any = None, policies: Any = None) -> Any:
    catalogue = write(tmp_path, "catalogue.yaml", {"actions": actions or [action("offer.a")]})
    policy = write(tmp_path, "policies.yaml", policies if policies is not None else {})
    return load_config(catalogue, policy)


def test_starter_catalogue_covers_every_kind_and_channel() -> None:
    config = starter()
    actions = config.catalogue.actions
    assert len(actions) >= 25
    assert {item.kind for item in actions} == set(ActionKind)
    assert {channel for item in actions for channel in item.channels} == set(Channel)
    for kind in ActionKind:
        for channel in Channel:
            assert any(a.kind == kind and channel in a.channels for a in actions), (kind, channel)
    routing = [item for item in actions if item.kind == ActionKind.routing]
    assert all("priority" in item.payload for item in routing if "queue" in item.payload)


def test_starter_policies_are_the_contract_defaults() -> None:
    policies = starter().policies
    assert policies.caps.offers_per_channel_per_day == 2
    assert policies.caps.offers_per_day == 3
    assert policies.fatigue.dismissals == 2
    assert policies.fatigue.rest.days == 30
    assert policies.recent_purchase.category_rest.days == 14
    assert policies.consent.purpose_by_kind == {ActionKind.offer: "marketing"}
    assert policies.policy_version == starter().catalogue.policy_version


def test_index_by_trigger_and_channel() -> None:
    catalogue = starter().catalogue
    for item in catalogue.for_event("call_started", "phone"):
        assert "call_started" in item.triggers
        assert Channel.phone in item.channels
    ids = [item.id for item in catalogue.for_event("page_view", "web")]
    assert ids == sorted(ids)
    assert catalogue.for_event("page_view", "phone") == ()
    assert len(catalogue.for_channel("store")) >= 5


def test_policy_version_is_a_stable_content_hash(tmp_path: Path) -> None:
    first = load(tmp_path).policy_version
    assert first == load(tmp_path).policy_version
    assert len(first) == 12
    # Comments, formatting and key order do not change the content.
    text = (
        "# note\nactions:\n- {value: 10, id: offer.a, kind: offer, category: misc, title: offer.a,"
    )
    text += " channels: [web, phone, mobile, store], propensity: 0.5,"
    text += " triggers: [page_view, call_started, store_visit, app_open]}\n"
    write(tmp_path, "catalogue.yaml", text)
    assert (
        load_config(tmp_path / "catalogue.yaml", tmp_path / "policies.yaml").policy_version == first
    )
    changed = load(tmp_path, policies={"caps": {"offers_per_day": 4}}).policy_version
    assert changed != first
    assert load(tmp_path, actions=[action("offer.a", lever=2)]).policy_version != first


@pytest.mark.parametrize(
    ("actions", "path", "reason"),
    [
        (
            [action("offer.a"), action("offer.b"), action("offer.c"), action("x.d", kind="promo")],
            "actions[3].kind",
            "Input should be 'service', 'offer', 'routing' or 'info'",
        ),
        (
            [action("offer.a"), action("offer.b"), action("offer.a")],
            "actions[2].id",
            "duplicate action id 'offer.a' (first at actions[0])",
        ),
        (
            [action("offer.a", eligibility={"signal": "failed_checkout", "within": "soon"})],
            "actions[0].eligibility.signal.within",
            "invalid duration 'soon'",
        ),
        (
            [action("offer.a", eligibility={"all": [{"channel": "web"}, {"vibe": "good"}]})],
            "actions[0].eligibility.all[1]",
            "a condition is a mapping with one of the keys",
        ),
        (
            [action("offer.a", suitability=[{"when": {"channel": "web"}, "weight": 0}])],
            "actions[0].suitability[0].weight",
            "greater than 0",
        ),
        ([action("offer.a", triggers=["page_viewed"])], "actions[0].triggers", "vocabulary"),
        ([action("offer.a", channels=["email"])], "actions[0].channels[0]", "'web'"),
        ([action("offer.a", propensity=1.5)], "actions[0].propensity", "less than or equal"),
        ([action("offer.a", ttl="forever")], "actions[0].ttl", "invalid duration"),
        ([action("offer.a", colour="red")], "actions[0].colour", "Extra inputs"),
        ([action("Offer A")], "actions[0].id", "pattern"),
    ],
)
def test_catalogue_errors_name_file_path_and_reason(
    tmp_path: Path, actions: list[dict[str, Any]], path: str, reason: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        load(tmp_path, actions=actions)
    error = raised.value
    assert error.file.endswith("catalogue.yaml")
    assert any(where == path and reason in text for where, text in error.problems), error.problems
    assert str(error).startswith(f"{error.file}: ")


@pytest.mark.parametrize(
    ("policies", "path", "reason"),
    [
        ({"caps": {"offers_per_day": -1}}, "caps.offers_per_day", "greater than or equal to 0"),
        ({"caps": {"timezone": "Mars/Olympus"}}, "caps.timezone", "unknown timezone"),
        (
            {"frustration": {"signals": {"sulking": {"at_least": 1, "within": "1h"}}}},
            "frustration.signals.sulking",
            "Input should be",
        ),
        ({"defaults": {"ttl": {"offer": "1d"}}}, "defaults.ttl", "missing a value for service"),
        (
            {"consent": {"purpose_by_kind": {"offer": "spam"}}},
            "consent.purpose_by_kind.offer",
            "'marketing'",
        ),
        ({"fatigue": {"rest": 30}}, "fatigue.rest", "duration"),
        ({"policy_version": "abc"}, "policy_version", "set by the loader"),
        ({"surprise": {}}, "surprise", "Extra inputs"),
    ],
)
def test_policy_errors_name_file_path_and_reason(
    tmp_path: Path, policies: dict[str, Any], path: str, reason: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        load(tmp_path, policies=policies)
    assert raised.value.file.endswith("policies.yaml")
    assert any(where == path and reason in text for where, text in raised.value.problems), (
        raised.value.problems
    )


def test_yaml_problems_are_config_errors(tmp_path: Path) -> None:
    write(tmp_path, "catalogue.yaml", "actions:\n  - id: a\n    id: b\n")
    write(tmp_path, "policies.yaml", "{}")
    with pytest.raises(ConfigError, match=r"catalogue.yaml: line 3, column 5: .*given twice"):
        load_config(tmp_path / "catalogue.yaml", tmp_path / "policies.yaml")
    write(tmp_path, "catalogue.yaml", "actions: [\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_config(tmp_path / "catalogue.yaml", tmp_path / "policies.yaml")
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.yaml", tmp_path / "policies.yaml")


def test_empty_policies_file_means_defaults(tmp_path: Path) -> None:
    write(tmp_path, "catalogue.yaml", {"actions": [action("offer.a")]})
    write(tmp_path, "policies.yaml", "")
    config = load_config(tmp_path / "catalogue.yaml", tmp_path / "policies.yaml")
    assert config.policies.caps.offers_per_day == 3
    assert effective_ttl(config.catalogue.by_id["offer.a"], config.policies).days == 1


def test_every_starter_file_is_in_the_config_dir() -> None:
    assert (CONFIG_DIR / "catalogue.yaml").is_file()
    assert (CONFIG_DIR / "policies.yaml").is_file()

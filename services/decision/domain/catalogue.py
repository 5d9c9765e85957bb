"""The action catalogue and the loader of both decision config files.

Both files are validated completely at start-up; an invalid file stops the
service with one line per problem naming the file, the path inside it and the
reason, e.g. ``catalogue.yaml: actions[3].kind: Input should be 'service', ...``.
The loaded :class:`Catalogue` is indexed by (event type, channel) once, so a
decision only looks at actions that could answer its event.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import Any, TypeAlias

import orjson
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from libs.contract.action import ActionSpec, Reason
from libs.contract.common import ActionKind, Channel
from libs.contract.vocabulary import allowed_channels, is_known_type
from services.decision.domain.conditions import Check, Condition
from services.decision.domain.durations import Duration
from services.decision.domain.explain import (
    NOT_ELIGIBLE,
    REASON_ACTION,
    REASON_SUITABILITY,
    CandidateOutcome,
    Exclusion,
)
from services.decision.domain.policies import Policies
from services.decision.domain.templates import SLOT_NEEDS, CategoryInfo, Template

_ACTION_ID = r"^[a-z0-9][a-z0-9._-]{0,127}$"


class ConfigError(ValueError):
    """An invalid config file: every problem as ``file: path: reason``."""

    def __init__(self, file: str, problems: Sequence[tuple[str, str]]) -> None:
        self.file = file
        self.problems = tuple(problems)
        lines = [
            f"{file}: {path}: {reason}" if path else f"{file}: {reason}"
            for path, reason in problems
        ]
        super().__init__("\n".join(lines))


Candidate: TypeAlias = (
    "tuple[str, str, Check | None, CandidateOutcome | None,"
    " tuple[tuple[Check, float, str], ...], float, float, Template | None]"
)
"""``ActionDef.candidate``: id, kind, eligibility check, its "not eligible" outcome,
suitability weights, propensity x value, lever and template (None: a plain action)."""


class Weight(BaseModel):
    """A suitability rule: when the condition holds, the context weight is multiplied."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    when: Condition
    weight: float = Field(gt=0)
    reason: str | None = None


class ActionDef(BaseModel):
    """One catalogue entry. Score = propensity x value x context weight x lever."""

    # Kind and channels as plain strings (validated against the enums): cheaper to
    # hash and compare on the hot path.
    model_config = ConfigDict(frozen=True, extra="forbid", use_enum_values=True)

    id: str = Field(pattern=_ACTION_ID)
    kind: ActionKind
    category: str = Field(min_length=1)
    title: str = Field(min_length=1)
    # Shown in reasons: why a person would want this action at all.
    reason: str | None = None
    channels: tuple[Channel, ...] = Field(min_length=1)
    payload: dict[str, Any] = Field(default_factory=dict)
    # Products this action offers: never offered again once bought.
    products: tuple[str, ...] = ()
    propensity: float = Field(ge=0, le=1)
    value: float = Field(ge=0)
    lever: float = Field(default=1.0, ge=0)
    ttl: Duration | None = None
    cooldown: Duration | None = None
    # Event types this action answers in the stream; none = only on request
    # (next-best-action queries from the agent desktop or the store app).
    triggers: tuple[str, ...] = ()
    eligibility: Condition | None = None
    suitability: tuple[Weight, ...] = ()
    # A template over a slot of the context (``templates.py``): the decided action
    # names the concrete product or category. None: the action as written.
    template: Template | None = None
    # Carry the customer briefing (cart, interests, complaints, consent, last
    # contact) in ``payload.briefing``: for associates and agents (``briefing.py``).
    briefing: bool = False

    # --- constants of the hot path, derived once per action (cached in the instance
    # dict, which pydantic ignores: not fields, not serialised, not compared). The
    # model is frozen, so they cannot go stale; ``model_copy(update=...)`` would copy
    # them along, though: validate a new ActionDef instead of copying one. ---------

    @cached_property
    def eligible(self) -> Check | None:
        """The eligibility condition compiled to a closure, if there is one."""
        return None if self.eligibility is None else self.eligibility.check

    @cached_property
    def weights(self) -> tuple[tuple[Check, float, str], ...]:
        """Per suitability rule: its compiled condition, its weight and its reason text."""
        return tuple(
            (
                rule.when.check,
                rule.weight,
                f"{rule.reason or rule.when.describe()} (x{rule.weight:g})",
            )
            for rule in self.suitability
        )

    @cached_property
    def is_offer(self) -> bool:
        return self.kind == ActionKind.offer

    @cached_property
    def candidate(self) -> Candidate:
        """What arbitration reads of this action for every candidate, in one plain tuple.

        An attribute of a pydantic model costs a ``__getattr__``-hooked lookup, a
        tuple unpack a few stores: the loop reads this once instead of eight
        attributes. ``propensity x value`` is the score's first product either way.
        """
        not_eligible = None
        if self.eligibility is not None:
            needs = Exclusion(NOT_ELIGIBLE, f"needs {self.eligibility.describe()}")
            # The same outcome on every decision the action is not eligible in: built once.
            not_eligible = CandidateOutcome(self.id, None, needs)
        return (
            self.id,
            self.kind,
            self.eligible,
            not_eligible,
            self.weights,
            self.propensity * self.value,
            self.lever,
            self.template,
        )

    @cached_property
    def template_empty(self) -> CandidateOutcome | None:
        """The outcome when the template finds nothing to bind to (built once)."""
        if self.template is None:
            return None
        needs = Exclusion(NOT_ELIGIBLE, f"needs {SLOT_NEEDS[self.template.slot]}")
        return CandidateOutcome(self.id, None, needs)

    # The output event's constant parts, validated once: pydantic passes a model
    # instance through as is, and building these from dicts was a third of the
    # cost of each action event. Frozen models, so sharing them is safe.

    @cached_property
    def spec(self) -> ActionSpec:
        """``ActionEvent.action`` when the payload gets no per-decision context."""
        return ActionSpec(id=self.id, kind=self.kind, category=self.category, payload=self.payload)

    @cached_property
    def bound_specs(self) -> dict[tuple[Any, ...], ActionSpec]:
        """A template's validated ``ActionEvent.action`` per binding (``templates.subject_key``).

        The same customer's cart product or category of interest is decided on again
        and again; its action part is validated once. Bounded by the caller.
        """
        return {}

    @cached_property
    def score_terms(self) -> tuple[str, str]:
        """The constant ends of the score reason: before and after the context weight."""
        return (
            f"propensity {self.propensity:g} x value {self.value:g}",
            f"lever {self.lever:g}",
        )

    @cached_property
    def action_reason(self) -> Reason:
        """The first reason of every action event: the catalogue's own why."""
        return Reason(code=REASON_ACTION, detail=self.reason or self.title)

    @cached_property
    def suitability_reasons(self) -> Mapping[str, Reason]:
        """Reason text of each suitability rule (see ``weights``) -> its reason."""
        return {text: Reason(code=REASON_SUITABILITY, detail=text) for _, _, text in self.weights}

    @field_validator("channels", "triggers")
    @classmethod
    def _no_repeats(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        repeated = sorted({value for value in values if values.count(value) > 1})
        if repeated:
            raise ValueError(f"listed more than once: {', '.join(repeated)}")
        return values

    @field_validator("triggers")
    @classmethod
    def _event_types(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        for value in values:
            if not is_known_type(value):
                raise ValueError(
                    f"{value!r} is neither in the interaction/v1 vocabulary"
                    " nor a custom x-<name> type"
                )
        return values

    @field_validator("eligibility", mode="before")
    @classmethod
    def _list_means_all(cls, value: Any) -> Any:
        if isinstance(value, list):
            return {"all": value} if value else None
        return value

    @field_validator("payload")
    @classmethod
    def _json_payload(cls, value: dict[str, Any]) -> dict[str, Any]:
        try:
            orjson.dumps(value)
        except TypeError as error:
            raise ValueError(f"payload must be plain JSON: {error}") from error
        return value


class CatalogueFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    # Category name -> label for reasons and accessory categories (templates).
    categories: dict[str, CategoryInfo] = Field(default_factory=dict)
    actions: tuple[ActionDef, ...] = Field(min_length=1)


@dataclass(frozen=True, slots=True)
class Catalogue:
    """The validated actions, indexed for the hot path. Build with :func:`build_catalogue`."""

    actions: tuple[ActionDef, ...]
    policy_version: str
    by_id: Mapping[str, ActionDef] = field(repr=False)
    _by_trigger: Mapping[tuple[str, str], tuple[ActionDef, ...]] = field(repr=False)
    _by_channel: Mapping[str, tuple[ActionDef, ...]] = field(repr=False)
    # The longest per-action cooldown: the contact history must remember that far back.
    longest_cooldown: timedelta = timedelta(0)
    categories: Mapping[str, CategoryInfo] = field(default_factory=dict, repr=False)

    def for_event(self, event_type: str, channel: str) -> tuple[ActionDef, ...]:
        """Actions that answer this event type on this channel, sorted by id."""
        return self._by_trigger.get((event_type, channel), ())

    def for_channel(self, channel: str) -> tuple[ActionDef, ...]:
        """Every action deliverable on the channel, sorted by id (for queries)."""
        return self._by_channel.get(channel, ())


def build_catalogue(
    actions: Iterable[ActionDef],
    policy_version: str,
    file: str = "catalogue",
    categories: Mapping[str, CategoryInfo] | None = None,
) -> Catalogue:
    """Index validated actions; rejects duplicate ids with the path of the repeat, and
    templates that could never bind (an accessory template without accessories)."""
    ordered = tuple(actions)
    categories = dict(categories or {})
    seen: dict[str, int] = {}
    problems: list[tuple[str, str]] = []
    has_accessories = any(info.accessories for info in categories.values())
    for index, action in enumerate(ordered):
        if (
            action.template is not None
            and action.template.slot == "purchase_accessory"
            and not has_accessories
        ):
            problems.append(
                (
                    f"actions[{index}].template.slot",
                    "purchase_accessory needs categories.<bought>.accessories in the catalogue",
                )
            )
        if action.id in seen:
            problems.append(
                (
                    f"actions[{index}].id",
                    f"duplicate action id {action.id!r} (first at actions[{seen[action.id]}])",
                )
            )
        else:
            seen[action.id] = index
    if problems:
        raise ConfigError(file, problems)
    by_trigger: dict[tuple[str, str], list[ActionDef]] = {}
    by_channel: dict[str, list[ActionDef]] = {}
    for action in sorted(ordered, key=lambda item: item.id):
        for channel in action.channels:
            by_channel.setdefault(channel, []).append(action)
            for trigger in action.triggers:
                # page_view never comes from the phone: keep impossible pairs out of the index.
                if channel in allowed_channels(trigger):
                    by_trigger.setdefault((trigger, channel), []).append(action)
    return Catalogue(
        actions=ordered,
        policy_version=policy_version,
        by_id={action.id: action for action in ordered},
        _by_trigger={key: tuple(value) for key, value in by_trigger.items()},
        _by_channel={key: tuple(value) for key, value in by_channel.items()},
        longest_cooldown=max(
            (action.cooldown for action in ordered if action.cooldown is not None),
            default=timedelta(0),
        ),
        categories=categories,
    )


@dataclass(frozen=True, slots=True)
class DecisionConfig:
    catalogue: Catalogue
    policies: Policies

    @property
    def policy_version(self) -> str:
        return self.catalogue.policy_version


def load_config(catalogue_path: Path, policies_path: Path) -> DecisionConfig:
    """Read, validate and version both files; raises :class:`ConfigError` on any problem."""
    catalogue_data = _read_yaml(catalogue_path)
    policies_data = _read_yaml(policies_path)
    version = policy_version_of(catalogue_data, policies_data)
    return DecisionConfig(
        catalogue=parse_catalogue(catalogue_data, version, str(catalogue_path)),
        policies=parse_policies(policies_data, version, str(policies_path)),
    )


def parse_catalogue(data: Any, policy_version: str, file: str = "catalogue") -> Catalogue:
    try:
        parsed = CatalogueFile.model_validate(data)
    except ValidationError as error:
        raise ConfigError(file, _problems(error)) from None
    return build_catalogue(parsed.actions, policy_version, file, parsed.categories)


def parse_policies(data: Any, policy_version: str, file: str = "policies") -> Policies:
    if isinstance(data, dict) and "policy_version" in data:
        raise ConfigError(file, [("policy_version", "set by the loader from the file contents")])
    try:
        policies = Policies.model_validate(data if data is not None else {})
    except ValidationError as error:
        raise ConfigError(file, _problems(error)) from None
    return policies.model_copy(update={"policy_version": policy_version})


def policy_version_of(catalogue_data: Any, policies_data: Any) -> str:
    """A short hash of both files' content, stable across comments, formatting and key order."""
    canonical = orjson.dumps(
        {"catalogue": catalogue_data, "policies": policies_data},
        option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS,
        default=str,
    )
    return hashlib.sha256(canonical).hexdigest()[:12]


def effective_ttl(action: ActionDef, policies: Policies) -> timedelta:
    return action.ttl if action.ttl is not None else policies.defaults.ttl[action.kind]


def effective_cooldown(action: ActionDef, policies: Policies) -> timedelta:
    return (
        action.cooldown if action.cooldown is not None else policies.defaults.cooldown[action.kind]
    )


class _StrictLoader(yaml.SafeLoader):
    """Safe YAML that rejects a key given twice, which plain YAML silently overwrites."""


def _no_duplicate_keys(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    keys: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in keys:
            raise yaml.constructor.ConstructorError(
                None, None, f"key {key!r} is given twice", key_node.start_mark
            )
        keys.add(key)
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _no_duplicate_keys)


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(str(path), [("", f"cannot read: {error.strerror or error}")]) from None
    try:
        return yaml.load(text, Loader=_StrictLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error)
        raise ConfigError(str(path), [(where, f"invalid YAML: {problem}")]) from None


def _problems(error: ValidationError) -> list[tuple[str, str]]:
    errors = error.errors(include_url=False)
    paths = [_format_path(item["loc"]) for item in errors]
    problems = []
    for item, path in zip(errors, paths, strict=True):
        # Pydantic also reports an emptied container after its only item failed;
        # the item's own error is the one a person needs.
        if item["type"] == "too_short" and any(
            other != path and other.startswith(path) for other in paths
        ):
            continue
        problems.append((path, item["msg"]))
    return problems


def _format_path(loc: tuple[int | str, ...]) -> str:
    text = ""
    previous: int | str | None = None
    for part in loc:
        if part == "[key]":  # pydantic's marker for an invalid mapping key: the key is named next
            continue
        if isinstance(part, int):
            text += f"[{part}]"
        elif part != previous:
            # A condition's tag repeats as its first field (``signal.signal``): say it once.
            text += f".{part}" if text else part
        previous = part
    return text

"""Publish the contract as JSON Schema (draft 2020-12) files in `schemas/`.

    .venv/bin/python -m libs.contract.schema_export          # regenerate
    .venv/bin/python -m libs.contract.schema_export --check  # fail when stale

Records Concierge receives are described as a sender must write them
(validation mode); records it emits as a reader will find them (serialization
mode, where every always-present field is required).
"""

import argparse
import json
import sys
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final, Literal

from pydantic import BaseModel

from libs.contract.action import ActionEvent
from libs.contract.attributes import Attributes
from libs.contract.common import Channel
from libs.contract.decision_log import DecisionLogRecord
from libs.contract.dlq import DeadLetter
from libs.contract.erasure import ErasureRequest
from libs.contract.interaction import InteractionEvent
from libs.contract.suppression import SuppressionEvent, SuppressionsInForce
from libs.contract.vocabulary import EVENT_TYPES

JSON_SCHEMA_DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"
REGENERATE_COMMAND: Final = ".venv/bin/python -m libs.contract.schema_export"
DEFAULT_OUT_DIR: Final = Path(__file__).resolve().parents[2] / "schemas"
_REF_TEMPLATE: Final = "#/$defs/{model}"

Mode = Literal["validation", "serialization"]
_RECORDS: Final[tuple[tuple[str, str, type[BaseModel], Mode], ...]] = (
    ("interaction.v1.json", "interaction/v1", InteractionEvent, "validation"),
    ("action.v1.json", "action/v1", ActionEvent, "serialization"),
    ("suppression.v1.json", "suppression/v1", SuppressionEvent, "serialization"),
    (
        "suppressions-in-force.v1.json",
        "suppressions-in-force/v1",
        SuppressionsInForce,
        "serialization",
    ),
    ("dead-letter.v1.json", "dead-letter/v1", DeadLetter, "serialization"),
    ("erasure.v1.json", "erasure/v1", ErasureRequest, "validation"),
    # Internal (on concierge.internal.decisions, sealed), published for auditors' tools.
    ("decision-log.v1.json", "decision-log/v1", DecisionLogRecord, "serialization"),
)


def generate() -> dict[str, dict[str, Any]]:
    """{file name: JSON Schema} for every record of the contract."""
    schemas: dict[str, dict[str, Any]] = {}
    for filename, record, model, mode in _RECORDS:
        schema = model.model_json_schema(mode=mode, ref_template=_REF_TEMPLATE)
        if model is InteractionEvent:
            _add_vocabulary_rules(schema)
        schema["$schema"] = JSON_SCHEMA_DIALECT
        schema["title"] = record
        schemas[filename] = schema
    return schemas


def _add_vocabulary_rules(schema: dict[str, Any]) -> None:
    """Per-type attributes and allowed channels as `if`/`then` branches.

    Pydantic only sees `attributes` as an object; the branches let a channel
    team's own validator catch what intake would refuse.
    """
    defs: dict[str, Any] = schema.setdefault("$defs", {})
    groups: dict[tuple[type[Attributes], frozenset[Channel]], list[str]] = defaultdict(list)
    for name, spec in EVENT_TYPES.items():
        groups[(spec.attributes, spec.channels)].append(str(name))
    branches: list[dict[str, Any]] = []
    for (attributes, channels), names in groups.items():
        _add_definition(defs, attributes)
        then: dict[str, Any] = {
            "attributes": {"$ref": _REF_TEMPLATE.format(model=attributes.__name__)}
        }
        if channels != frozenset(Channel):
            then["channel"] = {"enum": sorted(channels)}
        branches.append(
            {
                "if": {"properties": {"type": {"enum": sorted(names)}}, "required": ["type"]},
                "then": {"properties": then},
            }
        )
    branches.sort(key=lambda branch: branch["if"]["properties"]["type"]["enum"][0])
    schema["allOf"] = branches


def _add_definition(defs: dict[str, Any], model: type[BaseModel]) -> None:
    model_schema = model.model_json_schema(mode="validation", ref_template=_REF_TEMPLATE)
    defs.update(model_schema.pop("$defs", {}))
    defs[model.__name__] = model_schema


def render(schema: dict[str, Any]) -> str:
    """Byte-for-byte stable text, so a stale file shows up as a diff."""
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def stale_files(out_dir: Path) -> list[str]:
    """Names of files in `out_dir` that are missing or differ from what the models say."""
    stale = []
    for filename, schema in generate().items():
        path = out_dir / filename
        if not path.is_file() or path.read_text(encoding="utf-8") != render(schema):
            stale.append(filename)
    return stale


def write(out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for filename, schema in generate().items():
        path = out_dir / filename
        path.write_text(render(schema), encoding="utf-8")
        written.append(path)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT_DIR, help="target directory")
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if a file is stale"
    )
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files(args.out)
        if stale:
            print(f"stale JSON Schemas: {', '.join(stale)}; run {REGENERATE_COMMAND}")
            return 1
        return 0
    for path in write(args.out):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The published JSON Schemas are what the models say, and stay byte-stable."""

import json
from pathlib import Path

from libs.contract.schema_export import (
    DEFAULT_OUT_DIR,
    REGENERATE_COMMAND,
    generate,
    main,
    render,
    stale_files,
)
from libs.contract.vocabulary import EVENT_TYPES

EXPECTED_FILES = {
    "interaction.v1.json",
    "action.v1.json",
    "suppression.v1.json",
    "suppressions-in-force.v1.json",
    "dead-letter.v1.json",
    "erasure.v1.json",
    "decision-log.v1.json",
}


def test_committed_schemas_match_the_models() -> None:
    stale = stale_files(DEFAULT_OUT_DIR)
    assert not stale, f"schemas/ is stale ({', '.join(stale)}); run {REGENERATE_COMMAND}"


def test_one_file_per_record() -> None:
    assert set(generate()) == EXPECTED_FILES


def test_rendering_is_deterministic_and_ends_with_a_newline() -> None:
    first, second = generate(), generate()
    for name in EXPECTED_FILES:
        text = render(first[name])
        assert text == render(second[name])
        assert text.endswith("}\n")
        assert json.loads(text) == first[name]


def test_each_type_s_attributes_and_channels_are_in_the_interaction_schema() -> None:
    schema = generate()["interaction.v1.json"]
    covered: dict[str, dict[str, object]] = {}
    for branch in schema["allOf"]:
        for name in branch["if"]["properties"]["type"]["enum"]:
            covered[name] = branch["then"]["properties"]
    assert set(covered) == set(EVENT_TYPES)
    assert covered["call_abandoned"]["channel"] == {"enum": ["phone"]}
    assert "channel" not in covered["purchase"]
    ref = covered["purchase"]["attributes"]
    assert isinstance(ref, dict)
    assert ref["$ref"].rsplit("/", 1)[1] in schema["$defs"]


def test_concierge_only_fields_are_read_only() -> None:
    schema = generate()["interaction.v1.json"]
    identity = schema["$defs"]["Identity"]["properties"]
    assert identity["phone_hash"]["readOnly"] is True
    assert schema["properties"]["received_at"]["readOnly"] is True


def test_check_mode_reports_stale_files(tmp_path: Path, capsys: object) -> None:
    assert main(["--out", str(tmp_path), "--check"]) == 1
    assert main(["--out", str(tmp_path)]) == 0
    assert main(["--out", str(tmp_path), "--check"]) == 0
    (tmp_path / "action.v1.json").write_text("{}\n", encoding="utf-8")
    assert stale_files(tmp_path) == ["action.v1.json"]

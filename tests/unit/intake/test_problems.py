"""Pydantic error locations rendered as the JSON paths senders see."""

import pytest
from pydantic_core import ErrorDetails

from services.intake.domain.problems import Loc, describe, json_path


@pytest.mark.parametrize(
    ("loc", "path"),
    [
        ((), None),
        (("event_id",), "event_id"),
        (("identity", "phone"), "identity.phone"),
        (("attributes", "items", 0, "product_id"), "attributes.items[0].product_id"),
        (("attributes", "utm.source"), 'attributes["utm.source"]'),
        (("attributes", 'say "hi"'), 'attributes["say \\"hi\\""]'),
        (("9lives",), '["9lives"]'),
    ],
)
def test_json_path(loc: Loc, path: str | None) -> None:
    assert json_path(loc) == path


def test_describe_names_the_first_problem_and_lists_the_others() -> None:
    errors: list[ErrorDetails] = [
        {"type": "missing", "loc": ("event_id",), "msg": "Field required", "input": None},
        {"type": "enum", "loc": ("channel",), "msg": "Input should be 'web'", "input": None},
        {"type": "missing", "loc": (), "msg": "Bad", "input": None},
    ]
    assert describe(errors, ("attributes",)) == (
        "attributes.event_id",
        "attributes.event_id: Field required (also: attributes.channel, attributes)",
    )
    assert describe(errors[2:]) == (None, "Bad")


def test_describe_caps_the_list() -> None:
    errors: list[ErrorDetails] = [
        {"type": "missing", "loc": (f"f{n}",), "msg": "Field required", "input": None}
        for n in range(9)
    ]
    assert describe(errors)[1].endswith("(also: f1, f2, f3, f4, f5 and 3 more)")

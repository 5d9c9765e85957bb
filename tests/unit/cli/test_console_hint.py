"""`make run` / `make up` say where the console is and which key signs in."""

from __future__ import annotations

import orjson

from services.cli.main import console_hint


def test_the_hint_names_the_console_and_the_operator_key() -> None:
    keys = {
        "web-0123456789abcdef": {"channel": "web", "scopes": ["context:read"]},
        "operator-0123456789abcdef": {"channel": None, "scopes": ["context:read"]},
    }
    hint = console_hint("http://127.0.0.1:8080", orjson.dumps(keys).decode())
    assert "http://127.0.0.1:8080/console/" in hint
    assert "operator-0123456789abcdef" in hint
    assert "web-0123456789abcdef" not in hint


def test_without_an_operator_key_it_says_what_to_use() -> None:
    keys = {"web-0123456789abcdef": {"channel": "web", "scopes": ["context:read"]}}
    assert "all-channel API key" in console_hint("http://h", orjson.dumps(keys).decode())

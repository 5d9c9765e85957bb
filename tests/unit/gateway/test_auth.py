"""API keys: parsing, digests only in memory, bearer parsing, scopes and channels."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from libs.common.worker import load_or_exit
from libs.contract.common import Channel
from services.gateway.auth import (
    AuthFailure,
    Principal,
    Scope,
    authenticate,
    bearer_token,
    digest_of,
    parse_api_keys,
)
from services.gateway.settings import GatewaySettings

WEB_KEY = "web-key-0123456789abcdef"
OPERATOR_KEY = "operator-key-0123456789abcdef"
KEYS = {
    WEB_KEY: {"channel": "web", "scopes": ["events:write", "actions:read"]},
    OPERATOR_KEY: {"channel": None, "scopes": ["context:read", "decision:read"]},
}


def principal_for(key: str) -> Principal:
    found = authenticate(parse_api_keys(KEYS), f"Bearer {key}")
    assert isinstance(found, Principal), found
    return found


def test_keys_are_held_as_digests_with_their_grants() -> None:
    entries = parse_api_keys(KEYS)
    assert [entry.digest for entry in entries] == [digest_of(WEB_KEY), digest_of(OPERATOR_KEY)]
    assert entries[0].grant.channel is Channel.web
    assert entries[1].grant.channel is None
    assert entries[1].grant.scopes == {Scope.context_read, Scope.decision_read}


def test_settings_read_keys_from_json_and_never_show_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(
        "CONCIERGE_GATEWAY_API_KEYS",
        json.dumps({WEB_KEY: {"channel": "web", "scopes": ["events:write"]}}),
    )
    settings = GatewaySettings()
    assert len(settings.api_keys) == 1
    for shown in (
        repr(settings),
        str(settings),
        str(settings.model_dump()),
        repr(settings.api_keys),
    ):
        assert WEB_KEY not in shown


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ({"short-key": {"channel": "web", "scopes": ["events:write"]}}, "key #1 is shorter"),
        ({"has a space in it 0123": {"channel": "web", "scopes": ["events:write"]}}, "whitespace"),
        ({WEB_KEY: {"channel": "tv", "scopes": ["events:write"]}}, "key #1: channel"),
        ({WEB_KEY: {"channel": "web", "scopes": []}}, "key #1: scopes"),
        ({WEB_KEY: {"channel": "web", "scopes": ["events:delete"]}}, "key #1: scopes"),
        ({WEB_KEY: {"scopes": ["events:write"]}}, "key #1: channel"),
        ({WEB_KEY: {"channel": "web", "scopes": ["events:write"], "admin": True}}, "admin"),
        (["not", "a", "mapping"], "must be a JSON object"),
    ],
)
def test_bad_keys_are_refused_without_repeating_any_key(raw: object, problem: str) -> None:
    with pytest.raises(ValidationError) as raised:
        GatewaySettings(api_keys=raw)
    message = str(raised.value)
    assert problem in message
    for key in ("short-key", "has a space in it 0123", WEB_KEY):
        assert key not in message


def test_a_bad_key_setting_fails_start_up_with_one_line_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = "tooshort"
    monkeypatch.setenv(
        "CONCIERGE_GATEWAY_API_KEYS", json.dumps({secret: {"channel": "web", "scopes": []}})
    )
    with pytest.raises(SystemExit) as exited:
        load_or_exit("gateway", GatewaySettings)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "CONCIERGE_GATEWAY_API_KEYS" in err
    assert secret not in err
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Bearer abc", "abc"),
        ("bearer   abc  ", "abc"),
        ("BEARER abc", "abc"),
    ],
)
def test_bearer_tokens_are_read_from_the_header(header: str, expected: str) -> None:
    assert bearer_token(header) == expected


@pytest.mark.parametrize("header", [None, "", "Basic dXNlcjpwYXNz", "Bearer", "Bearer   ", "abc"])
def test_a_missing_or_malformed_header_is_a_failure_with_a_challenge(header: str | None) -> None:
    failure = bearer_token(header)
    assert isinstance(failure, AuthFailure)
    assert failure.www_authenticate().startswith('Bearer realm="concierge"')


def test_an_unknown_key_is_an_invalid_token() -> None:
    failure = authenticate(parse_api_keys(KEYS), "Bearer not-a-key-0123456789abcdef")
    assert isinstance(failure, AuthFailure)
    assert failure.error == "invalid_token"
    assert "invalid_token" in failure.www_authenticate()


def test_no_keys_configured_means_nobody_gets_in() -> None:
    assert isinstance(authenticate((), f"Bearer {WEB_KEY}"), AuthFailure)


def test_a_known_key_yields_its_principal_with_a_loggable_label() -> None:
    web = principal_for(WEB_KEY)
    assert web.channel is Channel.web
    assert web.has(Scope.events_write)
    assert not web.has(Scope.context_read)
    assert web.label == "key#1:web"
    assert WEB_KEY not in web.label
    assert principal_for(OPERATOR_KEY).label == "key#2:all"


@pytest.mark.parametrize("channel", list(Channel))
def test_a_channel_key_acts_for_its_channel_only_and_an_operator_key_for_all(
    channel: Channel,
) -> None:
    assert principal_for(WEB_KEY).may_act_for(channel) is (channel is Channel.web)
    assert principal_for(OPERATOR_KEY).may_act_for(channel)


def test_keys_differing_in_one_character_do_not_match() -> None:
    near_miss = WEB_KEY[:-1] + ("g" if WEB_KEY[-1] != "g" else "h")
    assert isinstance(authenticate(parse_api_keys(KEYS), f"Bearer {near_miss}"), AuthFailure)

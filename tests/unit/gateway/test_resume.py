"""Resume tokens: the position of an SSE stream, per partition."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.gateway.resume import BadResumeToken, decode_token, encode_token, resume_plan


def test_a_token_lists_every_partition_in_order() -> None:
    assert encode_token({1: 7, 0: 12}) == "p0:12,p1:7"
    assert decode_token("p0:12,p1:7") == {0: 12, 1: 7}
    assert decode_token(" p0:12, p1:7 ") == {0: 12, 1: 7}


@given(st.dictionaries(st.integers(0, 999), st.integers(0, 2**62), min_size=1, max_size=50))
def test_tokens_round_trip(positions: dict[int, int]) -> None:
    assert decode_token(encode_token(positions)) == positions


@pytest.mark.parametrize(
    "token",
    [
        "",
        "  ",
        "p0",
        "p0:",
        "0:12",
        "p0:12;p1:7",
        "p-1:3",
        "p0:-3",
        "p0:1,p0:2",
        "p01:1",
        "p0:1e3",
        "x" * 9000,
        "p0:12,",
        "p0:\uff11\uff12",  # full-width digits,
    ],
)
def test_malformed_tokens_are_refused(token: str) -> None:
    with pytest.raises(BadResumeToken):
        decode_token(token)


def test_a_plan_resumes_exactly_where_the_token_says() -> None:
    plan = resume_plan({0: 12, 1: 7}, beginnings={0: 0, 1: 0}, ends={0: 20, 1: 7})
    assert plan == {0: 12, 1: 7}


def test_a_partition_the_token_lacks_starts_at_its_beginning() -> None:
    assert resume_plan({0: 5}, beginnings={0: 0, 1: 3}, ends={0: 9, 1: 8}) == {0: 5, 1: 3}


def test_records_removed_by_retention_are_skipped_to_the_oldest_left() -> None:
    assert resume_plan({0: 2}, beginnings={0: 40}, ends={0: 50}) == {0: 40}


def test_a_token_from_another_stream_is_refused() -> None:
    with pytest.raises(BadResumeToken, match="partition 3"):
        resume_plan({3: 0}, beginnings={0: 0}, ends={0: 1})
    with pytest.raises(BadResumeToken, match="ahead"):
        resume_plan({0: 99}, beginnings={0: 0}, ends={0: 10})

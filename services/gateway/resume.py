"""SSE resume tokens: where a stream of `actions.<channel>` stands, per partition.

A token lists, for every partition, the offset of the next record the stream
would read: `p0:12,p1:7` means everything before offset 12 of partition 0 and
before offset 7 of partition 1 has been delivered (or skipped by the filter).
It is the `id` of every SSE event, so a client's `Last-Event-ID` is exactly
the position to resume from: nothing lost, nothing repeated.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

MAX_TOKEN_LENGTH: Final = 8192
_PART_PATTERN: Final = r"p(0|[1-9][0-9]{0,5}):(0|[1-9][0-9]{0,18})"
_PART: Final = re.compile(_PART_PATTERN, re.ASCII)
# What a token looks like, for the OpenAPI document (decode_token also
# tolerates spaces around the parts).
TOKEN_PATTERN: Final = rf"^{_PART_PATTERN}(,{_PART_PATTERN})*$"


class BadResumeToken(ValueError):
    pass


def encode_token(positions: Mapping[int, int]) -> str:
    return ",".join(f"p{partition}:{positions[partition]}" for partition in sorted(positions))


def decode_token(token: str) -> dict[int, int]:
    """Partition -> next offset; raises BadResumeToken for anything else."""
    token = token.strip()
    if not token:
        raise BadResumeToken("The resume token is empty")
    if len(token) > MAX_TOKEN_LENGTH:
        raise BadResumeToken("The resume token is too long")
    positions: dict[int, int] = {}
    for part in token.split(","):
        match = _PART.fullmatch(part.strip())
        if match is None:
            raise BadResumeToken(
                "The resume token must look like p0:12,p1:7 (partition:next offset)"
            )
        partition, offset = int(match[1]), int(match[2])
        if partition in positions:
            raise BadResumeToken(f"The resume token names partition {partition} twice")
        positions[partition] = offset
    return positions


def resume_plan(
    requested: Mapping[int, int],
    beginnings: Mapping[int, int],
    ends: Mapping[int, int],
) -> dict[int, int]:
    """Where to seek each partition of the topic, from a client's token.

    A partition the token does not name (added since) starts at its beginning;
    an offset already removed by retention starts at the oldest record left.
    A partition or offset the topic never had means the token is not from this
    stream: refused rather than silently replaying or skipping.
    """
    unknown = sorted(set(requested) - set(ends))
    if unknown:
        raise BadResumeToken(
            f"The resume token names partition {unknown[0]}, which this topic lacks"
        )
    plan: dict[int, int] = {}
    for partition, end in ends.items():
        beginning = beginnings[partition]
        offset = requested.get(partition, beginning)
        if offset > end:
            raise BadResumeToken(
                f"The resume token is ahead of the topic (partition {partition}: {offset} > {end})"
            )
        plan[partition] = max(offset, beginning)
    return plan

"""What the operator view of the console reads: consumer lag per stage, the
policy version in force, dead letters by code, and their replay.

Operator endpoints need an all-channel key (a channel-bound key is a channel
system's, not an operator's): `context:read` to read, `events:write` to
replay (a replay writes events back to the channel topics).
"""

from collections.abc import Callable
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from libs.common.dead_letters import RecentLetter, replay_dead_letters, summarize_dead_letters
from libs.common.lag import stage_lags
from libs.common.logging import get_logger
from libs.contract.dlq import ErrorCode
from services.gateway.auth import Principal, Scope
from services.gateway.customer_views import refusals
from services.gateway.proxy import UpstreamUnavailable, forward_get
from services.gateway.runtime import GatewayRuntime
from services.gateway.security import GatewayError, require

log = get_logger("concierge.gateway")


class PartitionLagView(BaseModel):
    topic: str
    partition: int
    end: int
    committed: int | None = Field(description="Null: the stage never committed here.")
    lag: int


class StageLag(BaseModel):
    stage: str
    lag: int = Field(description="Records not yet committed, over every input partition.")
    partitions: list[PartitionLagView]


class Status(BaseModel):
    policy_version: str | None = Field(description="Null when the decision service is down.")
    stages: list[StageLag]


class DeadLetters(BaseModel):
    scanned: int = Field(description="Letters read: the latest of each partition.")
    by_code: dict[str, int]
    recent: list[RecentLetter] = Field(description="Newest first; never the original bytes.")


class ReplayResult(BaseModel):
    code: str | None
    dry_run: bool
    replayed: int
    skipped: int = Field(description="Truncated or redacted originals: not replayable.")
    unreadable: int


def operator(dependency: Callable[..., Any]) -> Callable[..., Any]:
    """``dependency``'s principal, if it is an all-channel key."""

    async def principal(found: Annotated[Principal, Depends(dependency)]) -> Principal:
        if found.channel is not None:
            raise GatewayError(
                403, f"Operator views need an all-channel key, not a '{found.channel}' one"
            )
        return found

    return principal


def operations_router(runtime: GatewayRuntime) -> APIRouter:
    settings = runtime.settings
    reader = operator(require(settings.api_keys, Scope.context_read))
    writer = operator(require(settings.api_keys, Scope.events_write))
    router = APIRouter(tags=["operations"])
    names = runtime.names

    async def policy_version() -> str | None:
        try:
            answer = await forward_get(
                runtime.http, "decision", settings.decision_url, "/v1/policy"
            )
        except UpstreamUnavailable:
            return None
        if answer.status_code != 200:
            return None
        return str(orjson.loads(answer.body)["policy_version"])

    @router.get(
        "/v1/operations/status",
        summary="Consumer lag per stage and the policy version in force",
        responses={200: {"model": Status}, **refusals(401, 403, 503)},
    )
    async def get_status(_: Annotated[Principal, Depends(reader)]) -> Status:
        try:
            lags = await stage_lags(settings.common)
        except Exception as error:  # any broker failure: the answer is "unavailable"
            raise GatewayError(503, f"Kafka did not answer: {type(error).__name__}") from error
        stages = [
            StageLag(
                stage=stage,
                lag=sum(part.lag for part in parts),
                partitions=[
                    PartitionLagView(
                        topic=p.topic,
                        partition=p.partition,
                        end=p.end,
                        committed=p.committed,
                        lag=p.lag,
                    )
                    for p in parts
                ],
            )
            for stage, parts in lags.items()
        ]
        return Status(policy_version=await policy_version(), stages=stages)

    @router.get(
        "/v1/operations/dead-letters",
        summary="Dead letters by code, and the latest ones",
        responses={200: {"model": DeadLetters}, **refusals(401, 403, 503)},
    )
    async def get_dead_letters(_: Annotated[Principal, Depends(reader)]) -> DeadLetters:
        try:
            found = await summarize_dead_letters(settings.common, runtime.names.dlq)
        except Exception as error:
            raise GatewayError(503, f"Kafka did not answer: {type(error).__name__}") from error
        return DeadLetters(
            scanned=found.scanned,
            by_code=dict(found.by_code),
            recent=found.recent,
        )

    @router.post(
        "/v1/operations/dead-letters/replay",
        summary="Send dead letters of a code back to their source topic, once each",
        responses={200: {"model": ReplayResult}, **refusals(401, 403, 422, 503)},
    )
    async def replay(
        principal: Annotated[Principal, Depends(writer)],
        code: Annotated[
            ErrorCode | None, Query(description="Only this code; all if absent")
        ] = None,
        dry_run: Annotated[bool, Query(description="Count only; send nothing")] = False,
    ) -> ReplayResult:
        try:
            # Only to the channel topics the gateway writes anyway: a letter of
            # concierge.internal.resolved (which stage 2 trusts) or of privacy
            # requests is the operator's to replay, with the CLI.
            report = await replay_dead_letters(
                settings.common,
                names.dlq,
                code,
                dry_run,
                to=lambda topic: names.channel_of_interactions_topic(topic) is not None,
                group_prefix=names.console_replay_group_prefix,
            )
        except Exception as error:
            raise GatewayError(503, f"Kafka did not answer: {type(error).__name__}") from error
        log.info(
            "dead_letters_replayed",
            caller=principal.label,
            code=code.value if code else None,
            dry_run=dry_run,
            replayed=report.replayed,
        )
        return ReplayResult(
            code=code.value if code else None,
            dry_run=dry_run,
            replayed=report.replayed,
            skipped=report.skipped,
            unreadable=report.unreadable,
        )

    return router

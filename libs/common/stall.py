"""Notice a partition this worker owns but no longer consumes.

After a rebalance, Faust has been seen to keep a partition assigned to a
ready worker and never deliver its records again (docs/reliability.md): the
lag grows, nothing fails, nothing logs an error. A worker that owns a
partition with records waiting and whose committed offset has not moved for
``stall_after`` seconds exits for a restart (code 75), which moves the
partition to a consumer that reads it. The committed offset, not what was
handled: a worker can go on handling a partition's later records while an
earlier one it never received holds its commits back for good.

Pure: the caller samples, per owned partition, the records waiting past the
committed offset and the committed offset; ``StallDetector`` says which have not
moved for long enough.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

PartitionT = TypeVar("PartitionT", bound=Hashable)


@dataclass(frozen=True)
class Sample:
    """One owned partition at one moment."""

    waiting: int  # records between the committed offset and the end
    committed: int | None  # the group's committed offset; None if never committed


class StallDetector(Generic[PartitionT]):
    def __init__(self, stall_after: float) -> None:
        self._stall_after = stall_after
        # partition -> (committed offset when last seen moving, since when)
        self._unchanged: dict[PartitionT, tuple[int | None, float]] = {}

    def reset(self) -> None:
        """Forget everything, e.g. while the group rebalances or tables recover."""
        self._unchanged.clear()

    def observe(self, now: float, samples: Mapping[PartitionT, Sample]) -> list[PartitionT]:
        """The partitions with records waiting whose committed offset has not moved for
        ``stall_after`` seconds; partitions no longer owned are forgotten."""
        for partition in set(self._unchanged) - set(samples):
            del self._unchanged[partition]
        stalled = []
        for partition, sample in samples.items():
            seen = self._unchanged.get(partition)
            if sample.waiting <= 0 or seen is None or seen[0] != sample.committed:
                self._unchanged[partition] = (sample.committed, now)
                continue
            if now - seen[1] >= self._stall_after:
                stalled.append(partition)
        return stalled

"""Handle each partition's records in offset order, none skipped.

Faust can drop records around a rebalance: its fetch loop discards records of
a partition it does not consider active at that instant (paused, or a batch cut
short by a new generation) although the Kafka client's position has moved past
them. Seen in tests/reliability/test_rebalance.py: a worker handled offsets
348 to 352 of a partition, then 355 onwards; 353 and 354 never reached it, and
its commits stopped at 353 for good (docs/reliability.md).

So the agent checks every record against the next offset expected on its
partition (the last one it handled + 1, or the group's committed offset after
an assignment). A record below it was handled already (or committed by another
owner): skipped. A record past it means records in between were lost on the
way: it is not handled, the partition is sought back to the expected offset, and
what still arrives from before the seek is skipped until the expected record
comes. (Exiting for a restart instead was tried: a worker restarting with a
backlog met the same gap on every start.) Should fetching not resume, the
partition's commits stop and the stall watchdog (stall.py) restarts the worker.
Unless the broker no longer has those records (retention): then reading goes on
from the oldest record there is.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from enum import Enum
from typing import Generic, TypeVar

PartitionT = TypeVar("PartitionT", bound=Hashable)


class Verdict(Enum):
    HANDLE = "handle"
    SKIP = "skip"  # handled already: do not handle again, do not commit
    GAP = "gap"  # records before this one never arrived


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    expected: int | None


class ReadOrder(Generic[PartitionT]):
    def __init__(self) -> None:
        # partition -> (consumer generation, next offset to handle)
        self._next: dict[PartitionT, tuple[int, int]] = {}
        # partition -> the offset sought back to after a gap, until it arrives
        self._seeking: dict[PartitionT, int] = {}

    def knows(self, partition: PartitionT, generation: int) -> bool:
        """Whether the next offset of ``partition`` in ``generation`` is known here."""
        known = self._next.get(partition)
        return known is not None and known[0] == generation

    def check(
        self, partition: PartitionT, offset: int, generation: int, committed: int | None
    ) -> Decision:
        """What to do with the record at ``offset``; ``committed`` is the group's
        offset for the partition as of this worker's assignment."""
        known = self._next.get(partition)
        if known is None or known[0] != generation:
            # A new assignment: reading starts at the group's committed offset.
            if committed is None:
                return Decision(Verdict.HANDLE, None)
            self._next[partition] = (generation, committed)
            expected = committed
        else:
            expected = known[1]
        if offset == expected:
            self._seeking.pop(partition, None)
            return Decision(Verdict.HANDLE, expected)
        if offset < expected or self._seeking.get(partition) == expected:
            # Handled already, or left over from before the seek back.
            return Decision(Verdict.SKIP, expected)
        self._seeking[partition] = expected
        return Decision(Verdict.GAP, expected)

    def handled(self, partition: PartitionT, offset: int, generation: int) -> None:
        self._next[partition] = (generation, offset + 1)

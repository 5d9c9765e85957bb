"""Handle each partition's records in offset order, none skipped.

Faust can drop records around a rebalance: its fetch loop discards records of
a partition it does not consider active at that instant (paused, or a batch cut
short by a new generation) although the Kafka client's position has moved past
them. Seen in tests/reliability/test_rebalance.py: a worker handled offsets
348 to 352 of a partition, then 355 onwards; 353 and 354 never reached it, and
its commits stopped at 353 for good (docs/reliability.md). And a partition the
group never committed is not rewound by Faust's seek after a rebalance: a
decision worker handled offset 0 of both its partitions, then 56 onwards.

So the agent checks every record against the next offset expected on its
partition (the last one it handled + 1, or the group's committed offset after
an assignment). A record below it was handled already (or committed by another
owner): skipped. A record past it means records in between were lost on the
way: it is not handled, and the partition is read again from the expected
offset (``ReadPositions.rewind``). Records still on their way from before that
are skipped; the first record read again is handled, whatever its offset: if
it is past the expected one, the offsets between hold no records to read
(a transactional producer's commit markers, or compaction).

(Exiting for a restart instead was tried: a worker restarting with a backlog
met the same gap on every start.) Should reading not resume, the partition's
commits stop and the stall watchdog (stall.py) restarts the worker. Unless the
broker no longer has those records (retention): then reading goes on from the
oldest record there is.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from enum import Enum
from typing import Any, Generic, TypeVar

PartitionT = TypeVar("PartitionT", bound=Hashable)


class Verdict(Enum):
    HANDLE = "handle"
    SKIP = "skip"  # handled already, or left over from before a rewind: do not handle
    GAP = "gap"  # records before this one never arrived: read again from ``expected``


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    expected: int | None


@dataclass(frozen=True)
class _Rewind:
    expected: int  # read again from here
    seen: int  # the record that showed the gap: anything later is a leftover


class ReadOrder(Generic[PartitionT]):
    def __init__(self) -> None:
        # partition -> (consumer generation, next offset to handle)
        self._next: dict[PartitionT, tuple[int, int]] = {}
        self._rewinds: dict[PartitionT, _Rewind] = {}

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
            self._rewinds.pop(partition, None)
            if committed is None:
                return Decision(Verdict.HANDLE, None)
            self._next[partition] = (generation, committed)
            expected = committed
        else:
            expected = known[1]
        if offset == expected:
            self._rewinds.pop(partition, None)
            return Decision(Verdict.HANDLE, expected)
        if offset < expected:
            return Decision(Verdict.SKIP, expected)
        rewind = self._rewinds.get(partition)
        if rewind is not None and rewind.expected == expected:
            if offset > rewind.seen:
                return Decision(Verdict.SKIP, expected)
            # The first record read again: nothing between is there to read.
            del self._rewinds[partition]
            return Decision(Verdict.HANDLE, expected)
        self._rewinds[partition] = _Rewind(expected=expected, seen=offset)
        return Decision(Verdict.GAP, expected)

    def handled(self, partition: PartitionT, offset: int, generation: int) -> None:
        self._next[partition] = (generation, offset + 1)


class ReadPositions(dict[PartitionT, int | None]):
    """Faust's consumer's last read offset per partition, which can be rewound.

    Faust's fetch loop passes a record on only if its offset is at least the
    partition's read offset, and sets the read offset to each record it passed.
    A seek back sets it lower, but records fetched before the seek are still
    in that loop: the first of them set it high again, and the records read
    again were then dropped as already read. The stall this caused is in
    docs/reliability.md. So after ``rewind``, offsets past the record that
    showed the gap are not recorded until a record at or before it is read.
    """

    def __init__(self) -> None:
        super().__init__()
        self._rewinds: dict[PartitionT, int] = {}  # partition -> last offset read before

    def __missing__(self, partition: PartitionT) -> None:
        return None

    def rewind(self, partition: PartitionT, offset: int, *, read_before: int) -> None:
        """Read ``partition`` again from ``offset``; ``read_before`` is the offset last
        read before the seek."""
        self._rewinds[partition] = read_before
        super().__setitem__(partition, offset)

    def rewinding(self, partition: PartitionT, offset: int) -> bool:
        """Whether the record at ``offset`` was fetched before a rewind still under way."""
        read_before = self._rewinds.get(partition)
        return read_before is not None and offset > read_before

    def __setitem__(self, partition: PartitionT, offset: int | None) -> None:
        if offset is not None and self.rewinding(partition, offset):
            return  # fetched before the seek: the read offset stays where it went back to
        self._rewinds.pop(partition, None)
        super().__setitem__(partition, offset)

    def __delitem__(self, partition: PartitionT) -> None:
        self._rewinds.pop(partition, None)
        super().__delitem__(partition)

    def pop(self, partition: PartitionT, *default: Any) -> Any:
        self._rewinds.pop(partition, None)
        return super().pop(partition, *default)

    def update(self, *others: Any, **more: Any) -> None:
        # Faust's own seeks after an assignment: whatever was being read again is moot.
        changes: dict[PartitionT, int | None] = dict(*others, **more)
        for partition in changes:
            self._rewinds.pop(partition, None)
        super().update(changes)

    def clear(self) -> None:
        self._rewinds.clear()
        super().clear()

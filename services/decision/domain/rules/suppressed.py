"""Whatever an active suppression covers is not done, whichever rule emitted it.

The specific rules already exclude their cases with better reasons; this is
the backstop that makes every suppression we announced binding on ourselves.
"""

from __future__ import annotations

from collections.abc import Iterable

from services.decision.domain.explain import SUPPRESSED, Exclusion
from services.decision.domain.history import ActiveSuppression


def suppression_exclusion(
    action_id: str,
    kind: str,
    category: str,
    channel: str,
    in_force: Iterable[ActiveSuppression],
) -> Exclusion | None:
    """``in_force``: the history's suppressions in force now."""
    for suppression in in_force:
        if suppression.covers(channel, kind, category, action_id):
            return Exclusion(SUPPRESSED, f"{suppression.reason}: {suppression.detail}")
    return None

"""The live customer context, pure: frozen records, reducers, merges, no I/O.

The Faust adapter keeps one ``CustomerContext`` per customer (``to_bytes`` /
``from_bytes``), calls ``apply_event`` for each re-keyed event and
``merge_contexts`` when identity reports a merge. See docs/context.md.
"""

from services.context.domain.merge import adopt_provisional, is_expired, merge_contexts
from services.context.domain.model import ANONYMOUS_TTL, CustomerContext
from services.context.domain.reducers import apply_event, event_fingerprint
from services.context.domain.summary import summarize

__all__ = [
    "ANONYMOUS_TTL",
    "CustomerContext",
    "adopt_provisional",
    "apply_event",
    "event_fingerprint",
    "is_expired",
    "merge_contexts",
    "summarize",
]

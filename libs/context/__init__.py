"""The live customer context, pure: frozen records, reducers, merges, no I/O.

Stage 2's handler (services/decision/handler.py) keeps one ``CustomerContext``
per customer (``to_bytes`` / ``from_bytes``), calls ``apply_event`` for each
re-keyed event and ``merge_contexts`` when identity reports a merge. See docs/context.md.
"""

from libs.context.merge import adopt_provisional, is_expired, merge_contexts
from libs.context.model import ANONYMOUS_TTL, CustomerContext
from libs.context.reducers import apply_event, event_fingerprint
from libs.context.summary import summarize

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

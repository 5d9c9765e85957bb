"""Create the ACLs of libs/common/access.py on a cluster, as the admin principal.

aiokafka's admin client has no ACL calls (0.14), so this uses kafka-python's
``KafkaAdminClient.create_acls``, with the same connection options. Creating
an ACL that exists is a no-op on the broker, so running it again is safe.
"""

from __future__ import annotations

from collections.abc import Sequence

from kafka.admin import (
    ACL,
    ACLOperation,
    ACLPermissionType,
    ACLResourcePatternType,
    KafkaAdminClient,
    ResourcePattern,
    ResourceType,
)

from libs.common.access import Grant
from libs.common.kafka import connection
from libs.common.settings import CommonSettings


class AclError(RuntimeError):
    pass


def _acl(grant: Grant) -> ACL:
    return ACL(
        principal=grant.principal,
        host="*",
        operation=ACLOperation[grant.operation.value],
        permission_type=ACLPermissionType.ALLOW,
        resource_pattern=ResourcePattern(
            ResourceType[grant.resource.value],
            grant.name,
            ACLResourcePatternType[grant.pattern.value],
        ),
    )


def create_acls(settings: CommonSettings, grants: Sequence[Grant]) -> int:
    """Create every grant; the number created (or found already there)."""
    admin = KafkaAdminClient(**connection(settings), client_id="concierge-acls")
    try:
        result = admin.create_acls([_acl(grant) for grant in grants])
    finally:
        admin.close()
    if result["failed"]:
        problems = sorted({repr(error) for error in result["failed"]})
        raise AclError(f"{len(result['failed'])} ACL(s) not created: {', '.join(problems)}")
    return len(result["succeeded"])

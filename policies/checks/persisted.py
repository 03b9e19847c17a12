"""Persisted operations (safelisting) as the check sees them: is this document persisted for the
agent, and which document does an APQ hash name. Read from the database at most once per
GQLGOV_POLICY_REFRESH_S per schema (policies/checks/caches.py `persisted`)."""

import time
from dataclasses import dataclass

from django.conf import settings

from agents.identity import Identity
from policies.checks.caches import persisted_cache
from policies.models import PersistedOperation


@dataclass(frozen=True)
class PersistedDocument:
    document: str
    principal_ids: frozenset[int]
    groups: frozenset[str]

    def for_identity(self, identity: Identity) -> bool:
        principal = identity.principal
        return principal.pk in self.principal_ids or not self.groups.isdisjoint(principal.groups)


def _documents(schema_id: int) -> dict[str, PersistedDocument]:
    cache = persisted_cache()
    cached = cache.get(schema_id)
    now = time.monotonic()
    if cached is not None and cached[0] > now:
        return cached[1]
    rows: dict[str, tuple[str, set[int], set[str]]] = {}
    for sha256, document, principal_id, group in PersistedOperation.objects.filter(schema_id=schema_id).values_list(
        "sha256", "document", "principal_id", "group"
    ):
        _document, principals, groups = rows.setdefault(sha256, (document, set(), set()))
        if principal_id is not None:
            principals.add(principal_id)
        if group:
            groups.add(group)
    documents = {sha: PersistedDocument(text, frozenset(ids), frozenset(names)) for sha, (text, ids, names)
                 in rows.items()}
    cache.put(schema_id, (now + settings.GQLGOV_POLICY_REFRESH_S, documents))
    return documents


def persisted_for(schema_id: int, sha256: str, identity: Identity) -> str | None:
    """The persisted document with that SHA-256 if it is persisted for the agent (its name or one
    of its groups), else None."""
    found = _documents(schema_id).get(sha256)
    return found.document if found is not None and found.for_identity(identity) else None


def forget_persisted() -> None:
    """This process sees a promotion at once (other processes within POLICY_REFRESH_S)."""
    persisted_cache().clear()

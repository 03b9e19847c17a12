"""What the identities app announces to the rest of gqlgov, which it does not know (it imports
nothing from policies): other apps connect receivers in their AppConfig.ready()."""

from typing import Any

from django.db import transaction
from django.dispatch import Signal

from agents.models import Principal

# Sent after the transaction that changed a principal commits (never for a rolled-back change),
# with sender=Principal and the keyword arguments:
#   name:   the principal's name
#   change: what happened, a past-tense verb: "created", "changed", "suspended", "resumed",
#           "linked" or "relinked"
#   before: the principal's snapshot before the change (agents.services._snapshot), None when created
#   after:  its snapshot after the change
# Token writes send nothing: a token authenticates calls to gqlgov, not to anything else.
identity_changed = Signal()


def announce_on_commit(*, name: str, change: str, before: dict[str, Any] | None, after: dict[str, Any]) -> None:
    """Sends `identity_changed` once the current transaction commits (at once outside one).

    Robust: the change is committed whatever a receiver does, so a receiver's error is logged
    (django.db.backends.base) instead of failing the service whose change already happened."""

    def send() -> None:
        identity_changed.send(sender=Principal, name=name, change=change, before=before, after=after)

    transaction.on_commit(send, robust=True)

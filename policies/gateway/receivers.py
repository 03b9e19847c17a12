"""The gateway's receivers of other apps' signals: each calls one service, nothing else."""

from typing import Any

from agents.signals import identity_changed
from policies.gateway import services


def on_identity_changed(sender: Any, *, name: str, change: str, before: Any, after: Any, **kwargs: Any) -> None:
    """A principal changed (agents.signals.identity_changed, after commit): re-export where it appears."""
    services.identity_exports_request(name=name, change=change, before=before, after=after)


def connect() -> None:
    identity_changed.connect(on_identity_changed, dispatch_uid="gateway_identity_exports")

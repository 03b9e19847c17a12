"""Announcing approval requests and their decisions: a Slack-compatible JSON body (`text` links
to the request's review page) POSTed to the schema's webhook or the deployment's, signed with
`X-Gqlgov-Signature: sha256=<hex HMAC-SHA256 of the body>` under GQLGOV_APPROVAL_WEBHOOK_SECRET."""

from __future__ import annotations

import hashlib
import hmac
import json
import urllib.error
import urllib.request
from typing import Any

from django.conf import settings

from policies.models import ApprovalRequest, Schema

SIGNATURE_HEADER = "X-Gqlgov-Signature"


class DeliveryFailed(Exception):
    """The receiver did not take the announcement (an error status, or unreachable): retried."""


def review_url(approval: ApprovalRequest) -> str:
    return f"{settings.GQLGOV_PUBLIC_URL}/admin/approvals/{approval.pk}/"


def poll_url(approval: ApprovalRequest) -> str:
    return f"{settings.GQLGOV_PUBLIC_URL}/api/v1/approvals/{approval.pk}"


def webhook_url(approval: ApprovalRequest) -> str:
    """The schema's own webhook, else the deployment's (empty: nothing is announced)."""
    own = Schema.objects.filter(name=approval.schema_name).values_list("approval_webhook_url", flat=True).first()
    return own or settings.GQLGOV_APPROVAL_WEBHOOK_URL


def message(approval: ApprovalRequest, event: str) -> dict[str, Any]:
    """The announcement: Slack's `text` (with a link in Slack's <url|label> form) plus the facts."""
    operation = approval.operation_name or ", ".join(approval.root_fields) or "an operation"
    link = f"<{review_url(approval)}|review it>"
    if event == "requested":
        acting = approval.agent_name + (f" (for {approval.delegator_name})" if approval.delegator_name else "")
        text = (f"{acting} asks to run {approval.operation_type} {operation} on {approval.schema_name}"
                f" (rule {approval.rule}, {approval.required_approvals} approval(s) needed): {link}")
    else:
        text = f"Approval request for {approval.agent_name}'s {operation} on {approval.schema_name} was {event}: {link}"
    return {"text": text, "event": f"approval.{event}", "approval": {
        "id": str(approval.pk), "status": approval.status, "agent": approval.agent_name,
        "on_behalf_of": approval.delegator_name or None,
        "schema": approval.schema_name, "operation": approval.operation_name or None, "rule": approval.rule,
        "expires_at": approval.expires_at.isoformat(), "review_url": review_url(approval)}}


def signature(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def deliver(approval: ApprovalRequest, event: str) -> bool:
    """POSTs the announcement; False when no webhook is configured. Raises DeliveryFailed."""
    url = webhook_url(approval)
    if not url:
        return False
    body = json.dumps(message(approval, event), separators=(",", ":")).encode()
    headers = {"Content-Type": "application/json", "User-Agent": "gqlgov"}
    if settings.GQLGOV_APPROVAL_WEBHOOK_SECRET:
        headers[SIGNATURE_HEADER] = signature(body, settings.GQLGOV_APPROVAL_WEBHOOK_SECRET)
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 (configured URL)
    try:
        with urllib.request.urlopen(request, timeout=settings.GQLGOV_APPROVAL_WEBHOOK_TIMEOUT_S) as response:  # noqa: S310
            response.read(1024)
    except (urllib.error.URLError, OSError, ValueError) as error:
        # The reason only: a URL may carry a token (Slack's do), never logged or raised whole.
        raise DeliveryFailed(type(error).__name__) from None
    return True

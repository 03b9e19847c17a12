"""Every write to the schema registry and policy versions, by concern; each writes its audit
event in the same transaction as its change. Callers import from here."""

from policies.services.apis import api_register
from policies.services.common import Conflict, PolicyInvalid, _next_number, validate_document
from policies.services.drafts import draft_for_schema_version, draft_submit, policy_review_approve, rule_upsert
from policies.services.registry import schema_register, schema_settings_update
from policies.services.replays import policy_replay
from policies.services.review import contributors, policy_approve, refuse_self_approval
from policies.services.versions import create_draft, policy_load, policy_rollback, user_by_username

__all__ = [
    "Conflict",
    "PolicyInvalid",
    "_next_number",
    "api_register",
    "contributors",
    "create_draft",
    "draft_for_schema_version",
    "draft_submit",
    "policy_approve",
    "policy_load",
    "policy_replay",
    "policy_review_approve",
    "policy_rollback",
    "refuse_self_approval",
    "rule_upsert",
    "schema_register",
    "schema_settings_update",
    "user_by_username",
    "validate_document",
]

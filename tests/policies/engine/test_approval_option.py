"""The `approval` option of require_approval rules: defaults, values, and clear load errors."""

import pytest

from policies import engine
from policies.engine.policy import DEFAULT_APPROVAL


def compiled(**approval_rule):
    rule = {"id": "refunds", "effect": "require_approval", "operations": ["mutation.refundOrder"], **approval_rule}
    return engine.compile_policy({"schema": "shop", "rules": [rule]}).rules[0]


def errors(**approval_rule) -> list[tuple[str | None, str]]:
    with pytest.raises(engine.PolicyValidationError) as raised:
        compiled(**approval_rule)
    return [(error["field"], error["message"]) for error in raised.value.errors]


def test_a_require_approval_rule_without_the_option_asks_one_approver_by_role_with_the_default_expiry() -> None:
    assert compiled().approval == DEFAULT_APPROVAL == engine.Approval(1, (), None)


def test_the_option_names_approvers_groups_and_expiry() -> None:
    rule = compiled(approval={"approvers": 2, "groups": ["payments-leads"], "expires_in": "15m"})
    assert rule.approval == engine.Approval(2, ("payments-leads",), 900)
    assert compiled(approval={"expires_in": "2h"}).approval.expires_in_s == 7200
    assert compiled(approval={"expires_in": 120}).approval.expires_in_s == 120


@pytest.mark.parametrize(("approval", "field", "words"), [
    ({"approvers": 0}, "rules[0].approval.approvers", "integer >= 1"),
    ({"approvers": 11}, "rules[0].approval.approvers", "at most 10"),
    ({"groups": "payments-leads"}, "rules[0].approval.groups", "list of non-empty strings"),
    ({"expires_in": "15 minutes"}, "rules[0].approval.expires_in", "duration such as '15m'"),
    ({"expires_in": "10s"}, "rules[0].approval.expires_in", "between 1 minute and 30 days"),
    ({"quorum": 2}, "rules[0].approval.quorum", "unknown key"),
    ("yes", "rules[0].approval", "must be a mapping"),
])
def test_a_bad_option_is_a_load_error_naming_its_field(approval, field, words) -> None:
    [(where, message)] = errors(approval=approval)
    assert where == field
    assert words in message


def test_the_option_on_another_effect_is_a_load_error() -> None:
    with pytest.raises(engine.PolicyValidationError) as raised:
        engine.compile_policy({"schema": "shop", "rules": [
            {"id": "reads", "effect": "allow", "operations": ["query.*"], "approval": {"approvers": 2}}]})
    assert raised.value.errors[0]["field"] == "rules[0].approval"
    assert "require_approval" in raised.value.errors[0]["message"]

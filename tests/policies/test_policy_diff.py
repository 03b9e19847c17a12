"""The review diff compares policies by meaning: a reorder of a set-like list is not a change."""

from policies.engine.policy_diff import rule_diff

RULE = {
    "id": "support-reads",
    "effect": "allow",
    "subjects": {"agents": ["demo-agent", "support-bot"], "kinds": ["ai"]},
    "operations": ["query.order", "query.orders*"],
    "fields": {"deny": ["Customer.ssn", "Customer.cardNumber"]},
    "rate_limits": [{"requests": 60, "per": "minute"}, {"cost": 500, "per": "hour"}],
}
POLICY = {"schema": "shop", "defaults": {"limits": {"max_depth": 8}}, "rules": [RULE, {"id": "b", "effect": "deny"}]}


def reordered(policy: dict) -> dict:
    rule = dict(RULE)
    rule["subjects"] = {"kinds": ["ai"], "agents": ["support-bot", "demo-agent"]}
    rule["operations"] = ["query.orders*", "query.order", "query.order"]
    rule["fields"] = {"deny": ["Customer.cardNumber", "Customer.ssn"]}
    rule["rate_limits"] = list(reversed(RULE["rate_limits"]))
    return {**policy, "rules": [policy["rules"][1], rule]}


def test_a_reorder_of_rules_and_of_set_like_lists_is_not_a_change():
    diff = rule_diff(POLICY, reordered(POLICY))
    assert diff["counts"] == {"added": 0, "changed": 0, "removed": 0, "unchanged": 2}
    assert diff["other"] == []


def test_a_changed_list_names_the_entries_gained_and_lost():
    changed = reordered(POLICY)
    changed["rules"][1]["fields"] = {"deny": ["Customer.ssn", "Customer.email"]}
    [row] = [row for row in rule_diff(POLICY, changed)["rules"] if row["status"] == "changed"]
    [change] = row["changes"]
    assert change["key"] == "fields.deny"
    assert (change["gained"], change["lost"]) == (["Customer.email"], ["Customer.cardNumber"])


def test_changed_defaults_are_named_by_their_dotted_key():
    changed = {**POLICY, "defaults": {"limits": {"max_depth": 6}}}
    assert rule_diff(POLICY, changed)["other"] == [{"key": "defaults.limits.max_depth", "before": 8, "after": 6}]


def test_with_nothing_to_compare_with_every_rule_is_new_and_no_setting_changed():
    diff = rule_diff(None, POLICY)
    assert diff["counts"]["added"] == 2 and diff["other"] == []

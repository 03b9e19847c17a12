"""What an agent is shown of a decision names nothing outside its own schema (engine/agent_view.py)."""

from __future__ import annotations

import ast
import functools
import json
import re
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from policies import engine
from policies.engine import DENY, CompiledPolicy, Decision, Subject, analyze, compile_policy, decide
from policies.engine.agent_view import shown_to_agent
from policies.engine.own_schema import own_schema
from policies.engine.sdl_printer import print_definition

from .factories import NO_CAPS, office_request, policy_document, policy_with_rules, shop, support_bot
from .test_own_schema import documents, rules

_WORD = re.compile(r"[_A-Za-z][_0-9A-Za-z]*")


def decided(query: str, policy: CompiledPolicy, subject: Subject | None = None) -> tuple[Decision, Decision]:
    """(the true decision, the decision as the agent is shown it)."""
    subject = subject or support_bot()
    analysis = analyze(shop(), query)

    def decide_on(again: Any) -> Decision:
        return decide(policy, again, subject=subject, request=office_request(), caps=NO_CAPS)

    true = decide_on(analysis)
    visibility = own_schema(shop(), policy, subject).visibility
    return true, shown_to_agent(true, analysis, visibility, decide_on)


def told(decision: Decision) -> str:
    """Everything of a decision the check's answer shows the agent, as JSON text."""
    shown = decision.as_dict()
    return json.dumps({key: shown[key] for key in ("decision", "operation", "reasons", "metrics", "hints")})


def words(text: str) -> set[str]:
    return set(_WORD.findall(text))


def shown_words(decision: Decision) -> set[str]:
    """The names in what the agent is shown: every string value (messages, hints, paths, a suggested query)."""
    found: set[str] = set()
    pending: list[Any] = [json.loads(told(decision))]
    while pending:
        value = pending.pop()
        if isinstance(value, dict):
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
        elif isinstance(value, str):
            found |= words(value)
    return found


@functools.cache
def prose() -> frozenset[str]:
    """The words of the engine's own wording of messages and hints (`a person`, `must name one`):
    English that may read like a schema's name."""
    found: set[str] = set()
    for module in ("messages.py", "reasons.py", "limits.py"):
        tree = ast.parse((Path(engine.__file__).parent / module).read_text(encoding="utf-8"))
        docstrings = {
            id(node.body[0].value) for node in ast.walk(tree)
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef) and node.body
            and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
                found |= words(node.value)
    return frozenset(found)


def outside_names(policy: CompiledPolicy, subject: Subject | None = None) -> set[str]:
    """Names of the full schema that appear nowhere in the agent's own schema."""
    visibility = own_schema(shop(), policy, subject or support_bot()).visibility
    seen = words("\n".join(print_definition(node) for node in visibility.definitions))
    return set(visibility.hidden_names) - seen


READS = {"id": "reads", "effect": "allow", "subjects": {"groups": ["support"]}, "operations": ["query.*"],
         "fields": {"deny": ["Customer.ssn", "Customer.cardNumber"]}}


def test_a_hidden_field_and_a_field_that_does_not_exist_get_the_same_answer() -> None:
    policy = policy_with_rules(READS)

    true, hidden = decided('{ customer(id: "1") { name ssn } }', policy)
    _, missing = decided('{ customer(id: "1") { name zzz } }', policy)

    assert [reason.code for reason in true.reasons] == ["FORBIDDEN_FIELD"]  # what the record keeps
    assert told(hidden) == told(missing).replace("zzz", "ssn")
    assert [reason.code for reason in hidden.reasons] == ["GRAPHQL_VALIDATION_FAILED"]


def test_a_root_field_no_rule_admits_reads_as_one_that_does_not_exist() -> None:
    policy = policy_with_rules({**READS, "operations": ["query.order*"]})

    true, hidden = decided('{ customer(id: "1") { name } }', policy)
    _, missing = decided('{ zzzzzzzz(id: "1") { name } }', policy)

    assert [reason.code for reason in true.reasons] == ["NO_MATCHING_RULE"]
    assert told(hidden) == told(missing).replace("zzzzzzzz", "customer")
    assert "callable_operations" not in told(hidden)  # hints list no operations outside the own schema either


def test_a_hidden_type_in_a_fragment_reads_as_an_unknown_type() -> None:
    policy = policy_with_rules({**READS, "operations": ["query.search"], "fields": {"deny": ["Order.*"]}})

    true, hidden = decided('{ search(text: "x") { ... on Order { __typename } } }', policy)
    _, missing = decided('{ search(text: "x") { ... on Zzzzz { __typename } } }', policy)

    assert true.decision == DENY
    assert told(hidden) == told(missing).replace("Zzzzz", "Order")
    assert "Unknown type 'Order'" in told(hidden)


def test_a_variable_of_a_hidden_input_type_reads_as_one_of_an_unknown_type() -> None:
    # CardInput is the argument type of updatePayment only, a mutation no rule admits.
    policy = policy_with_rules(READS)
    query = 'query Q($card: CardInput!) { customer(id: "1") { name } }'

    _, hidden = decided(query, policy)
    _, missing = decided(query.replace("CardInput", "Zzzzzzzzz"), policy)

    assert "Unknown type 'CardInput'" in told(hidden)
    assert told(hidden) == told(missing).replace("Zzzzzzzzz", "CardInput")


def test_the_cost_of_a_hidden_field_is_not_shown() -> None:
    # exchangeRate costs 7 (@cost); a policy that hides it and caps cost below it.
    policy = policy_with_rules({**READS, "operations": ["query.order"]},
                               defaults={"limits": {"max_cost": 5}})

    true, hidden = decided('{ exchangeRate(currency: "EUR") }', policy)
    _, missing = decided('{ zzzzzzzzzzzz(currency: "EUR") }', policy)

    assert [reason.code for reason in true.reasons] == ["NO_MATCHING_RULE", "COST_LIMIT"]
    assert (true.metrics["cost"], hidden.metrics["cost"]) == (7, 0)
    assert told(hidden) == told(missing).replace("zzzzzzzzzzzz", "exchangeRate")


def test_a_near_miss_of_a_hidden_field_suggests_no_name() -> None:
    _, shown = decided('{ customer(id: "1") { ssm cardNumbe } }', policy_with_rules(READS))

    assert shown.decision == DENY
    assert not {"ssn", "cardNumber", "Did"} & shown_words(shown)


def test_a_denial_about_visible_names_is_shown_as_it_is() -> None:
    policy = policy_with_rules(READS, defaults={"limits": {"max_depth": 2}})

    true, shown = decided('{ customer(id: "1") { name orders(first: 1) { totalCount } } }', policy)

    assert shown is true
    assert any(hint["kind"] == "suggested_query" for hint in shown.hints)


def test_an_allow_is_shown_as_it_is() -> None:
    true, shown = decided('{ customer(id: "1") { name } }', policy_with_rules(READS))

    assert true.decision == "allow"
    assert shown is true


def _policy(drawn: list[dict[str, Any]]) -> CompiledPolicy:
    return compile_policy(policy_document(rules=[{**rule, "id": f"r{i}"} for i, rule in enumerate(drawn)]),
                          schema=shop())


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_what_an_agent_is_shown_names_nothing_outside_its_own_schema_but_what_it_wrote(data: st.DataObject) -> None:
    policy = _policy(data.draw(st.lists(rules(), min_size=1, max_size=4)))
    query = data.draw(documents(shop().schema))

    true, shown = decided(query, policy)

    assert shown.decision == true.decision
    leaked = (shown_words(shown) & outside_names(policy)) - words(query) - prose()
    assert not leaked, (query, told(shown))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_denied_document_with_a_hidden_name_is_told_as_if_the_name_did_not_exist(data: st.DataObject) -> None:
    policy = _policy(data.draw(st.lists(rules(), min_size=1, max_size=4)))
    query = data.draw(documents(shop().schema))
    # A name hidden everywhere (no type of the own schema has a field, argument or value so named).
    candidates = sorted(words(query) & outside_names(policy))
    assume(candidates)
    name = data.draw(st.sampled_from(candidates))
    stand_in = "z" * len(name)  # nowhere in the schema, and the same length: messages name columns

    true, shown = decided(query, policy)
    assume(true.decision == DENY)
    _, missing = decided(re.sub(rf"\b{name}\b", stand_in, query), policy)

    assert told(shown) == re.sub(rf"\b{stand_in}\b", name, told(missing)), query

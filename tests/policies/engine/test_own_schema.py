"""Each agent's own schema: the SDL restricted to what its rules allow, and its capabilities."""

from __future__ import annotations

from typing import Any

import graphql
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policies.engine import ALLOW, DENY, PENDING_APPROVAL, Subject, analyze, build_schema, compile_policy
from policies.engine.own_schema import OwnSchema, capabilities, introspection_of, own_schema

from .factories import check, policy_document, policy_with_rules, shop, support_bot


def own(policy: Any, subject: Subject | None = None) -> OwnSchema:
    return own_schema(shop(), policy, subject or support_bot(), title="Own schema of shop")


def built(result: OwnSchema) -> graphql.GraphQLSchema:
    assert result.sdl is not None
    return graphql.build_schema(result.sdl)  # raises if the SDL is not a valid schema


def fields_of(schema: graphql.GraphQLSchema, type_name: str) -> set[str]:
    type_ = schema.get_type(type_name)
    assert isinstance(type_, graphql.GraphQLObjectType | graphql.GraphQLInterfaceType), type_name
    return set(type_.fields)


READS = {"id": "reads", "effect": "allow", "subjects": {"groups": ["support"]}, "operations": ["query.order*"]}


def test_the_own_schema_has_only_the_root_fields_the_agents_rules_admit() -> None:
    schema = built(own(policy_with_rules(READS)))

    assert fields_of(schema, "Query") == {"order", "orders"}
    assert schema.mutation_type is None


def test_an_unconditional_deny_of_an_operation_removes_it_and_a_conditional_one_does_not() -> None:
    policy = policy_with_rules(
        {**READS, "operations": ["query.*"]},
        {"id": "no-orders", "effect": "deny", "operations": ["query.orders"]},
        {"id": "no-order-at-night", "effect": "deny", "operations": ["query.order"],
         "when": {"hours": {"from": "20:00", "to": "06:00"}}},
    )

    query = fields_of(built(own(policy)), "Query")

    assert "orders" not in query
    assert "order" in query


def test_rules_of_other_agents_add_nothing() -> None:
    others = {**READS, "id": "others", "subjects": {"agents": ["someone-else"]}, "operations": ["query.*"]}

    assert fields_of(built(own(policy_with_rules(READS, others))), "Query") == {"order", "orders"}


def test_a_denied_field_is_removed_from_its_type_and_through_interfaces() -> None:
    policy = policy_with_rules(
        {**READS, "operations": ["query.*"], "fields": {"deny": ["Customer.ssn", "Customer.cardNumber"]}}
    )

    result = own(policy)
    schema = built(result)

    assert {"ssn", "cardNumber"}.isdisjoint(fields_of(schema, "Customer"))
    # Person is an interface Customer implements: `person { ssn }` would reach Customer.ssn.
    assert "ssn" not in fields_of(schema, "Person")
    assert {"Customer.ssn", "Customer.cardNumber", "Person.ssn"} <= result.hidden_fields
    assert "ssn" not in (result.sdl or "").split("# ")[-1].split("\n", 1)[1]


def test_a_field_denied_on_an_interface_is_removed_from_its_implementations() -> None:
    policy = policy_with_rules({**READS, "operations": ["query.*"], "fields": {"deny": ["Person.name"]}})

    schema = built(own(policy))

    assert "name" not in fields_of(schema, "Person")
    assert "name" not in fields_of(schema, "Customer")


def test_a_type_left_without_fields_goes_with_the_fields_that_return_it() -> None:
    policy = policy_with_rules({**READS, "operations": ["query.*"], "fields": {"deny": ["OrderLine.*"]}})

    schema = built(own(policy))

    assert schema.get_type("OrderLine") is None
    assert "lines" not in fields_of(schema, "Order")


def test_an_operation_whose_type_has_every_field_denied_is_neither_in_the_sdl_nor_a_capability() -> None:
    policy = policy_with_rules({**READS, "operations": ["query.*"], "fields": {"deny": ["Report.*"]}})

    result = own(policy)

    assert "salesReport" not in fields_of(built(result), "Query")
    assert "query.salesReport" not in {capability.operation for capability in result.capabilities}
    assert check("{ salesReport(year: 2025) { __typename } }", policy=policy).decision == DENY


def test_unreachable_types_are_pruned() -> None:
    schema = built(own(policy_with_rules({**READS, "operations": ["query.exchangeRate"]})))

    assert fields_of(schema, "Query") == {"exchangeRate"}
    assert schema.get_type("Customer") is None
    assert schema.get_type("LoginInput") is None


def test_the_directives_gqlgov_reads_are_kept_with_their_uses() -> None:
    result = own(policy_with_rules({**READS, "operations": ["query.*"]}))
    schema = built(result)

    assert {"cost", "listSize", "sensitive"} <= {directive.name for directive in schema.directives}
    assert '@listSize(slicingArguments: ["first"], sizedFields: ["edges"])' in (result.sdl or "")
    assert "@cost(weight: 7)" in (result.sdl or "")


def test_the_leading_comment_names_the_limits_and_rate_limits_that_apply() -> None:
    policy = policy_with_rules(
        {**READS, "limits": {"max_depth": 4}, "rate_limits": [{"requests": 5, "per": "minute"}]}
    )

    header = (own(policy).sdl or "").split("\n\n", 1)[0]

    assert header.startswith("# Own schema of shop\n")
    assert "max_depth 4" in header
    assert "5 requests per minute (burst 5) [rule reads]" in header
    assert "600 requests per minute (burst 600) [default]" in header


def test_an_agent_that_may_call_no_query_has_no_own_schema() -> None:
    result = own(policy_with_rules({**READS, "subjects": {"agents": ["someone-else"]}}))

    assert result.sdl is None
    assert result.capabilities == ()


def test_capabilities_name_effects_and_condition_kinds_not_their_values() -> None:
    policy = policy_with_rules(
        {**READS, "when": {"source_ips": ["10.0.0.0/8"], "expression": 'agent.kind == "ai"'}},
        {"id": "refunds", "effect": "require_approval", "operations": ["mutation.refundOrder"]},
    )

    found = {capability.operation: capability.as_dict() for capability in capabilities(shop(), policy, support_bot())}

    assert found["query.order"]["effect"] == "allow"
    assert found["query.order"]["conditions"] == ["source IPs", "an expression"]
    assert found["mutation.refundOrder"] == {
        "operation": "mutation.refundOrder", "effect": "require_approval", "conditions": [],
        "rules": ["refunds"], "limits": policy.default_limits.as_dict(),
    }
    assert "10.0.0.0" not in str(found)


# ----------------------------------------------------------------------- the property


SUBJECTS = [None, {"kinds": ["ai"]}, {"groups": ["support"]}, {"agents": ["someone-else"]}]
OPERATION_GLOBS = [
    "query.*", "query.order", "query.orders", "query.customer", "query.person", "query.search", "query.node",
    "query.exchangeRate", "query.customersByIds", "mutation.*", "mutation.refundOrder", "mutation.login",
]
FIELD_GLOBS = [
    "Customer.ssn", "Person.name", "Order.customer", "OrderLine.*", "Node.id", "Order.total",
    "Query.customer", "Customer.orders", "OrderEdge.cursor", "Report.*",
]


@st.composite
def rules(draw: st.DrawFn) -> dict[str, Any]:
    rule: dict[str, Any] = {
        "effect": draw(st.sampled_from(["allow", "allow", "require_approval", "deny"])),
        "operations": draw(st.lists(st.sampled_from(OPERATION_GLOBS), min_size=1, max_size=3, unique=True)),
    }
    subjects = draw(st.sampled_from(SUBJECTS))
    if subjects is not None:
        rule["subjects"] = subjects
    denied = draw(st.lists(st.sampled_from(FIELD_GLOBS), max_size=3, unique=True))
    if denied:
        rule["fields"] = {"deny": denied}
    return rule


def _leaf_value(type_: graphql.GraphQLInputType) -> str:
    """A literal of `type_` (required input fields filled in)."""
    if isinstance(type_, graphql.GraphQLNonNull):
        return _leaf_value(type_.of_type)
    if isinstance(type_, graphql.GraphQLList):
        return f"[{_leaf_value(type_.of_type)}]"
    if isinstance(type_, graphql.GraphQLEnumType):
        return next(iter(type_.values))
    if isinstance(type_, graphql.GraphQLInputObjectType):
        required = [
            f"{name}: {_leaf_value(field.type)}"
            for name, field in type_.fields.items()
            if graphql.is_required_input_field(field)
        ]
        return "{" + ", ".join(required) + "}"
    return {"Int": "1", "Float": "1.5", "Boolean": "true"}.get(getattr(type_, "name", ""), '"x"')


def _field_text(draw: st.DrawFn, schema: graphql.GraphQLSchema, parent: Any, name: str, depth: int) -> str:
    definition = parent.fields[name]
    arguments = [
        f"{arg}: {_leaf_value(value.type)}" for arg, value in definition.args.items()
        if graphql.is_required_argument(value)
    ]
    text = name + (f"({', '.join(arguments)})" if arguments else "")
    named = graphql.get_named_type(definition.type)
    if graphql.is_leaf_type(named):
        return text
    return f"{text} {{ {_selection(draw, schema, named, depth + 1)} }}"


def _selection(draw: st.DrawFn, schema: graphql.GraphQLSchema, type_: Any, depth: int) -> str:
    """One to three selections of `type_`: its fields (scalar leaves only at the depth bound) and,
    on abstract types, inline fragments on possible types."""
    parts = ["__typename"]
    if isinstance(type_, graphql.GraphQLObjectType | graphql.GraphQLInterfaceType):
        names = sorted(
            name for name, field in type_.fields.items()
            if depth < 3 or graphql.is_leaf_type(graphql.get_named_type(field.type))
        )
        if names:
            chosen = draw(st.lists(st.sampled_from(names), min_size=1, max_size=2, unique=True))
            parts = [_field_text(draw, schema, type_, name, depth) for name in chosen]
    if graphql.is_abstract_type(type_) and depth < 3 and draw(st.booleans()):
        possible = draw(st.sampled_from(sorted(schema.get_possible_types(type_), key=lambda t: t.name)))
        parts.append(f"... on {possible.name} {{ {_selection(draw, schema, possible, depth + 1)} }}")
    return " ".join(parts)


@st.composite
def documents(draw: st.DrawFn, schema: graphql.GraphQLSchema) -> str:
    roots = [("query", schema.query_type), ("mutation", schema.mutation_type)]
    kind, root = draw(st.sampled_from([(kind, root) for kind, root in roots if root is not None]))
    chosen = draw(st.lists(st.sampled_from(sorted(root.fields)), min_size=1, max_size=3, unique=True))
    return f"{kind} {{ {' '.join(_field_text(draw, schema, root, name, 1) for name in chosen)} }}"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_document_valid_against_the_own_schema_is_allowed_by_the_check(data: st.DataObject) -> None:
    drawn = data.draw(st.lists(rules(), min_size=1, max_size=4))
    document = policy_document(
        defaults={}, rules=[{**rule, "id": f"r{index}"} for index, rule in enumerate(drawn)]
    )
    policy = compile_policy(document, schema=shop())
    result = own(policy)
    if result.sdl is None:
        return
    schema = graphql.build_schema(result.sdl)
    query = data.draw(documents(schema))
    assert graphql.validate(schema, graphql.parse(query)) == [], query

    decision = check(query, policy=policy)

    assert decision.decision in (ALLOW, PENDING_APPROVAL), (query, [r.as_dict() for r in decision.reasons])
    assert decision.decision != DENY


# ------------------------------------------------------- what validation tells an agent


def _validation_messages(bundle: Any, query: str) -> list[str]:
    return [reason.message for reason in analyze(bundle, query).failure if reason.code == "GRAPHQL_VALIDATION_FAILED"]


def test_against_its_own_schema_a_hidden_field_reads_exactly_as_a_field_that_does_not_exist() -> None:
    policy = policy_with_rules({**READS, "operations": ["query.*"], "fields": {"deny": ["Customer.ssn"]}})
    own_bundle = build_schema(own(policy).sdl or "")

    hidden = _validation_messages(own_bundle, '{ customer(id: "1") { ssn } }')
    missing = _validation_messages(own_bundle, '{ customer(id: "1") { zzz } }')

    assert hidden == [message.replace("zzz", "ssn") for message in missing]
    assert hidden  # the field is unknown there


def test_validation_against_the_full_schema_suggests_no_field_names() -> None:
    messages = _validation_messages(shop(), '{ customer(id: "1") { ss cardNumbe } }')

    assert messages
    assert not any("ssn" in message or "cardNumber" in message or "Did you mean" in message for message in messages)


def test_the_introspection_result_describes_the_same_schema_as_the_sdl() -> None:
    result = own(policy_with_rules({**READS, "operations": ["query.*", "mutation.*"]}))

    client_schema = graphql.build_client_schema(introspection_of(result.sdl or ""))

    assert graphql.print_schema(client_schema) == graphql.print_schema(built(result))


COVARIANT = """
type Gift { secret: String }
type Other { name: String }
union Result = Gift | Other
interface Holder { item: Result }
type Box implements Holder { item: Gift, label: String }
type Query { box: Box, holder: Holder }
"""


def test_a_field_an_implementation_loses_goes_from_its_interface_though_the_interfaces_type_remains() -> None:
    bundle = build_schema(COVARIANT)
    policy = compile_policy(
        {"schema": "covariant", "rules": [{"id": "all", "effect": "allow", "operations": ["query.*"],
                                           "fields": {"deny": ["Gift.*"]}}]},
        schema=bundle,
    )

    result = own_schema(bundle, policy, support_bot())
    schema = built(result)

    assert fields_of(schema, "Box") == {"label"}
    assert schema.get_type("Holder") is None  # it had `item` only
    assert fields_of(schema, "Query") == {"box"}

"""Template filters that show stored values as people read them: `{{ value|yaml }}`, `{{ doc|graphql }}`."""

from django import template

from gqlgov.display import as_yaml, graphql_pretty, pretty

register = template.Library()

register.filter("yaml", as_yaml)
register.filter("json", pretty)
register.filter("graphql", graphql_pretty)


@register.filter
def without_keys(value: dict, keys: str) -> dict:
    """`value` without the comma-separated `keys` and empty entries (a reason's details beyond its columns)."""
    drop = set(keys.split(","))
    if not isinstance(value, dict):
        return {}
    return {key: item for key, item in value.items() if key not in drop and item not in (None, "", [], {})}

"""A schema of GitHub's public API's size (1,600 types, ~20,000 fields), generated deterministically.

The console's field picker and GraphQL editor are measured on it (tests/console/test_editor_browser.py,
docs/benchmarks.md). Its shape follows GitHub's: one `Node` interface, connections and edges, enums,
input objects and unions; every type is reachable from `query.repository`, as nearly all of GitHub's
are, so the picker offers every field at once.

    python -m tests.support.github_size_schema > /tmp/github-size.graphql
"""

import random

WORDS = (
    "Repository Issue Pull Request Review Comment Commit Branch Tag Release Project Column Card Team "
    "Member Organization User Enterprise Package Version File Tree Blob Label Milestone Reaction "
    "Deployment Status Check Suite Run Workflow Job Step Artifact Discussion Category Poll Sponsor "
    "Tier Gist Star Fork Topic License Security Advisory Vulnerability Alert Ruleset Invitation Audit"
).split()
SCALAR_FIELDS = (
    ("title", "String"),
    ("body", "String"),
    ("url", "URI!"),
    ("createdAt", "DateTime!"),
    ("updatedAt", "DateTime"),
    ("databaseId", "Int"),
    ("isArchived", "Boolean!"),
    ("viewerCanUpdate", "Boolean!"),
    ("resourcePath", "URI!"),
    ("description", "String"),
    ("name", "String!"),
    ("number", "Int!"),
)
OBJECTS, ENUMS, INPUTS, UNIONS = 1_300, 150, 100, 46  # + Node, Query, Mutation, 2 custom scalars = 1,601


def _names(count: int, suffix: str, rng: random.Random) -> list[str]:
    pairs = [a + b for a in WORDS for b in WORDS if a != b]
    rng.shuffle(pairs)
    return [pair + suffix for pair in pairs[:count]]


def github_size_sdl(seed: int = 26) -> str:
    """The SDL: the same text for the same seed."""
    rng = random.Random(seed)
    objects = ["Repository", *_names(OBJECTS - 1, "", rng)]
    enums = _names(ENUMS, "State", rng)
    inputs = _names(INPUTS, "Input", rng)
    unions = _names(UNIONS, "Result", rng)
    lines = [
        "scalar DateTime",
        "scalar URI",
        "interface Node {\n  id: ID!\n}",
        "type Query {\n  repository(owner: String!, name: String!): Repository\n  node(id: ID!): Node\n"
        f"  search(query: String!, first: Int = 10): [{unions[0]}!]!\n}}",
        f"type Mutation {{\n  update{objects[1]}(input: {inputs[0]}!): {objects[1]}\n}}",
    ]
    for index, name in enumerate(objects):
        fields = ["  id: ID!"]
        fields += [f"  {field}: {type_}" for field, type_ in rng.sample(SCALAR_FIELDS, rng.randint(6, 10))]
        fields.append(f"  state: {enums[index % ENUMS]}!")
        # The next type keeps every type reachable; two more links make the graph GitHub-like.
        links = [objects[(index + 1) % OBJECTS], rng.choice(objects), rng.choice(objects)]
        for position, target in enumerate(links):
            field = target[0].lower() + target[1:] + ("s" if position else "")
            if position:
                fields.append(f"  {field}(first: Int, after: String, filter: {rng.choice(inputs)}): [{target}!]!")
            else:
                fields.append(f"  {field}: {target}")
        if index % 30 == 0:
            fields.append(f"  related: {unions[index // 30 % UNIONS]}")
        unique = list(dict.fromkeys(line.split(":")[0].split("(")[0] for line in fields))
        kept = [next(line for line in fields if line.split(":")[0].split("(")[0] == name) for name in unique]
        lines.append(f'"""A {name} (generated)."""\ntype {name} implements Node {{\n' + "\n".join(kept) + "\n}")
    for name in enums:
        lines.append(f"enum {name} {{\n  OPEN\n  CLOSED\n  MERGED\n  ARCHIVED\n}}")
    for name in inputs:
        lines.append(f"input {name} {{\n  query: String\n  states: [{rng.choice(enums)}!]\n  first: Int\n}}")
    for name in unions:
        lines.append(f"union {name} = " + " | ".join(rng.sample(objects, 3)))
    return "\n\n".join(lines) + "\n"


if __name__ == "__main__":
    print(github_size_sdl(), end="")

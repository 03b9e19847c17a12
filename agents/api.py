from ninja import Router, Schema

from agents.auth import AgentAuth

router = Router(tags=["agents"])


class AgentMeOut(Schema):
    name: str
    kind: str
    status: str
    groups: list[str]
    attributes: dict[str, str]
    authenticated_by: str
    token_prefix: str | None = None
    claims: dict | None = None


@router.get("/me", response=AgentMeOut, auth=AgentAuth(), operation_id="get_agent_me")
def get_agent_me(request):
    """The calling identity and how it authenticated."""
    identity = request.identity
    principal = identity.principal
    return AgentMeOut(
        name=principal.name,
        kind=principal.kind,
        status=principal.status,
        groups=principal.groups,
        attributes={str(k): str(v) for k, v in principal.attributes.items()},
        authenticated_by=identity.method,
        token_prefix=identity.token_prefix or None,
        claims=identity.claims or None,
    )

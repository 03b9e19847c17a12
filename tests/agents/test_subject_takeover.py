"""A signed-in human's OIDC subject cannot be moved to sign someone else in as them (issue 19, item 1).

The people sign in through the real OIDC provider on loopback; the editor then attacks through the
admin's own change form, as the review did.
"""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from agents import services
from agents.models import AuditEvent, Principal
from gqlgov.errors import ApiError
from policies.models import PolicyVersion
from policies.services import drafts
from tests.agents.test_oidc_login import idp  # noqa: F401
from tests.console.browser import PEOPLE
from tests.console.conftest import make_user, shop, signed_in  # noqa: F401
from tests.support.oidc_provider import login_through_provider

pytestmark = pytest.mark.django_db

User = get_user_model()
EDDIE, APRIL = PEOPLE["editor"], PEOPLE["approver"]
APPROVE_V2 = "/admin/schemas/shop/policy/2/approve/"


def sign_in_as(idp, person) -> Client:  # noqa: F811
    """A new browser session that signed in through the provider as `person` (or tried to)."""
    idp.next_user = person
    client = Client(raise_request_exception=False)
    login_through_provider(client)
    return client


def user_of(client: Client):
    user_id = client.session.get("_auth_user_id")
    return User.objects.get(pk=user_id) if user_id else None


def change_form(principal: Principal, **changes) -> dict[str, str]:
    """What the admin's change form posts for `principal`, with `changes` typed in."""
    return {
        "kind": principal.kind,
        "owner": "",
        "groups_text": ", ".join(principal.groups),
        "attributes_text": "",
        "iam_role_arn": "",
        "oidc_subject": principal.oidc_subject or "",
        **changes,
    }


def change_url(principal: Principal) -> str:
    return f"/admin/agents/principal/{principal.pk}/change/"


def test_an_editor_cannot_move_an_approvers_subject_and_so_cannot_approve_their_own_draft(idp, shop):  # noqa: F811
    editor_browser = sign_in_as(idp, EDDIE)
    eddie = user_of(editor_browser)
    april = user_of(sign_in_as(idp, APRIL))
    draft = drafts.rule_upsert(
        schema=shop, user=eddie, rule={"id": "extra", "effect": "deny", "operations": ["mutation.login"]}
    )
    drafts.draft_submit(version=draft, user=eddie)

    # The attack: free the editor's own subject, then give it to the approver's principal.
    for principal, subject in ((eddie.principal, "sub-eddie-parked"), (april.principal, EDDIE.sub)):
        editor_browser.post(change_url(principal), change_form(principal, oidc_subject=subject))
    assert Principal.objects.get(pk=eddie.principal.pk).oidc_subject == EDDIE.sub
    assert Principal.objects.get(pk=april.principal.pk).oidc_subject == APRIL.sub
    page = editor_browser.get(change_url(april.principal)).content.decode()
    assert 'name="oidc_subject"' not in page and APRIL.sub in page  # shown, read-only
    with pytest.raises(ApiError) as refused:
        services.principal_update(actor="user:eddie", principal=april.principal, oidc_subject=EDDIE.sub)
    assert (refused.value.status, refused.value.code, refused.value.details) == (
        403,
        "PERMISSION_DENIED",
        {"fields": ["oidc_subject"]},
    )

    # The editor's next login is the editor's own user, who may not approve the draft.
    again = sign_in_as(idp, EDDIE)
    assert user_of(again) == eddie
    assert again.post(APPROVE_V2, {"comment": "lgtm"}).status_code == 403
    assert PolicyVersion.objects.get(pk=draft.pk).status == "in_review"
    # And the approver still signs in as herself, not as a new april-2.
    assert user_of(sign_in_as(idp, APRIL)) == april
    assert not User.objects.filter(username="april-2").exists()


def test_a_login_never_yields_a_user_that_another_subjects_login_created(idp):  # noqa: F811
    eddie = user_of(sign_in_as(idp, EDDIE))
    april = user_of(sign_in_as(idp, APRIL))
    # As if an older release (or a direct database edit) had moved the subject anyway.
    Principal.objects.filter(pk=eddie.principal.pk).update(oidc_subject="sub-eddie-parked")
    Principal.objects.filter(pk=april.principal.pk).update(oidc_subject=EDDIE.sub)

    browser = sign_in_as(idp, EDDIE)

    assert user_of(browser) is None
    refused = AuditEvent.objects.get(action="login.refused")
    assert (refused.target_id, refused.details["sub"]) == (str(april.principal.pk), EDDIE.sub)


def test_an_admin_relinks_a_subject_which_unlinks_and_deactivates_the_old_user(idp):  # noqa: F811
    april = user_of(sign_in_as(idp, APRIL))
    principal = april.principal
    admin_browser = signed_in(make_user("ada", "admin"))
    assert 'name="oidc_subject"' in admin_browser.get(change_url(principal)).content.decode()

    response = admin_browser.post(change_url(principal), change_form(principal, oidc_subject="sub-april-new"))

    assert response.status_code == 302
    principal.refresh_from_db()
    april.refresh_from_db()
    assert (principal.oidc_subject, principal.user, april.is_active) == ("sub-april-new", None, False)
    event = AuditEvent.objects.get(action="principal.relinked")
    assert (event.actor, event.details) == (
        "user:ada",
        {"oidc_subject": {"from": APRIL.sub, "to": "sub-april-new"}, "unlinked_user": "april"},
    )
    new_april = user_of(sign_in_as(idp, APRIL.__class__(**{**APRIL.__dict__, "sub": "sub-april-new"})))
    assert new_april is not None and new_april != april
    principal.refresh_from_db()
    assert principal.user == new_april


def test_only_an_admin_may_relink_a_subject(idp):  # noqa: F811
    april = user_of(sign_in_as(idp, APRIL))
    with pytest.raises(ApiError) as refused:
        services.principal_relink(admin=make_user("eddie", "editor"), principal=april.principal, oidc_subject="x")
    assert refused.value.code == "PERMISSION_DENIED"
    assert Principal.objects.get(pk=april.principal.pk).oidc_subject == APRIL.sub

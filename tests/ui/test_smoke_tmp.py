import pytest
from tests.conftest import make_principal, issue_token_for
from tests.ui.conftest import signed_in

pytestmark = pytest.mark.django_db

def test_smoke(viewer, editor, approver, shop, support_bot):
    issue_token_for(support_bot)
    for user in (viewer, editor):
        c = signed_in(user)
        for url in ["/admin/", "/admin/schemas/", "/admin/schemas/shop/", "/admin/schemas/shop/versions/1/",
                    "/admin/schemas/shop/diff/", "/admin/schemas/shop/operations/mutation.refundOrder/",
                    "/admin/schemas/shop/operations/mutation.refundOrder/rules/add/",
                    "/admin/schemas/shop/operations/mutation.refundOrder/rules/refunds-need-a-human/edit/",
                    "/admin/schemas/shop/policy/1/", "/admin/reviews/", "/admin/simulator/", "/admin/exports/",
                    "/admin/schemas/register/", "/admin/agent/support-bot/"]:
            r = c.get(url)
            print(user.username, url, r.status_code)
            if r.status_code == 500:
                print(r.content.decode()[:3000])

import pytest
from django.test import Client
from tests.ui.conftest import make_user

pytestmark = pytest.mark.django_db

def test_diff(shop):
    c = Client()
    c.force_login(make_user("x", "viewer"), backend="django.contrib.auth.backends.ModelBackend")
    c.get("/admin/schemas/shop/diff/")

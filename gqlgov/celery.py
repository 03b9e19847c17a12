"""The Celery app. Tasks live in each app's tasks.py with explicit names."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gqlgov.settings")

app = Celery("gqlgov")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

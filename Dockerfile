FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 GQLGOV_DATA_DIR=/var/lib/gqlgov
WORKDIR /app

COPY pyproject.toml README.md ./
COPY gqlgov ./gqlgov
COPY agents ./agents
COPY policies ./policies
# The service imports gqlgov_verify.binding (one hashing of documents and variables for signer and verifier).
COPY gqlgov-verify ./gqlgov-verify
COPY manage.py ./
RUN pip install --no-cache-dir . \
    && useradd --system --home /var/lib/gqlgov gqlgov \
    && mkdir -p /var/lib/gqlgov \
    && DJANGO_SETTINGS_MODULE=gqlgov.settings python manage.py collectstatic --noinput \
    && chown -R gqlgov /var/lib/gqlgov

USER gqlgov
EXPOSE 8000
CMD ["gunicorn", "-c", "gqlgov/gunicorn.conf.py", "gqlgov.wsgi:application"]

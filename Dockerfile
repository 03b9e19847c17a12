# The browser files gqlgov serves itself (Swagger UI, ReDoc, ...): npm packages pinned by
# frontend/package-lock.json, copied into place as frontend/vendor.json lists (make vendor).
FROM node:20-slim AS frontend
WORKDIR /app
COPY frontend ./frontend
RUN cd frontend && npm ci --no-audit --no-fund --loglevel=error && node vendor.mjs

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 GQLGOV_DATA_DIR=/var/lib/gqlgov
WORKDIR /app

COPY pyproject.toml README.md ./
COPY gqlgov ./gqlgov
COPY --from=frontend /app/gqlgov/console/static/vendor ./gqlgov/console/static/vendor
COPY agents ./agents
COPY policies ./policies
# The verifier's source: the service signs with the same hashing code the verifier checks with.
COPY gqlgov-verify/src ./gqlgov-verify/src
COPY manage.py ./
RUN pip install --no-cache-dir . \
    && useradd --system --home /var/lib/gqlgov gqlgov \
    && mkdir -p /var/lib/gqlgov \
    && DJANGO_SETTINGS_MODULE=gqlgov.settings python manage.py collectstatic --noinput \
    && chown -R gqlgov /var/lib/gqlgov

USER gqlgov
EXPOSE 8000
CMD ["gunicorn", "-c", "gqlgov/gunicorn.conf.py", "gqlgov.wsgi:application"]

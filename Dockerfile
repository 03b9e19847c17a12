# The console's browser code (tools/vendor_static.py: npm packages pinned by package-lock.json).
FROM node:20-slim AS static
WORKDIR /src
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends python3 >/dev/null && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json static-vendor.json ./
COPY tools/vendor_static.py ./tools/
COPY gqlgov/console/frontend ./gqlgov/console/frontend
RUN python3 tools/vendor_static.py

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 GQLGOV_DATA_DIR=/var/lib/gqlgov
WORKDIR /app

COPY pyproject.toml README.md ./
COPY gqlgov ./gqlgov
COPY --from=static /src/gqlgov/console/static/gqlgov/vendor ./gqlgov/console/static/gqlgov/vendor
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

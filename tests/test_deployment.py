"""Deployment artefacts: production settings refuse to start without secrets; compose file is valid."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.production_server import NGINX, nginx_command, write_nginx_config

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION_SECRETS = ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "ALLOWED_HOSTS")


def import_settings(env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in PRODUCTION_SECRETS}
    return subprocess.run(
        [sys.executable, "-c", "import gqlgov.settings"],
        cwd=ROOT, env={**clean, **env}, capture_output=True, text=True, timeout=60,
    )


@pytest.mark.parametrize("missing", PRODUCTION_SECRETS)
def test_production_refuses_to_start_without_each_secret(missing):
    env = {
        "GQLGOV_ENV": "production",
        "DATABASE_URL": "postgres://u:p@db:5432/gqlgov",
        "REDIS_URL": "redis://redis:6379/0",
        "SECRET_KEY": "x" * 50,
        "ALLOWED_HOSTS": "gqlgov.example.com",
    }
    del env[missing]
    result = import_settings(env)
    assert result.returncode != 0
    assert f"refuses to start without: {missing}" in result.stderr


def test_production_starts_with_all_secrets():
    result = import_settings({
        "GQLGOV_ENV": "production",
        "DATABASE_URL": "postgres://u:p@db:5432/gqlgov",
        "REDIS_URL": "redis://redis:6379/0",
        "SECRET_KEY": "x" * 50,
        "ALLOWED_HOSTS": "gqlgov.example.com",
    })
    assert result.returncode == 0, result.stderr


def test_embedded_default_needs_no_settings():
    result = import_settings({"GQLGOV_ENV": "development"})
    assert result.returncode == 0, result.stderr


def database_settings(env: dict[str, str], *argv: str) -> dict:
    """DATABASES["default"] as gqlgov.settings builds it for `manage.py <argv>` with `env`."""
    code = (
        f"import json, sys; sys.argv = ['manage.py', *{list(argv)!r}]; import gqlgov.settings as s; "
        "print(json.dumps(s.DATABASES['default'], default=str))"
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DATABASE_")}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env={**clean, **env}, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_postgresql_gets_a_bounded_connection_pool_instead_of_persistent_connections():
    database = database_settings(
        {"DATABASE_URL": "postgres://u:p@db:5432/gqlgov", "DATABASE_CONN_MAX_AGE": "60", "DATABASE_POOL_MAX_SIZE": "7"},
        "migrate",
    )
    assert database["CONN_MAX_AGE"] == 0  # Django refuses a pool with persistent connections
    assert database["OPTIONS"]["pool"] == {"min_size": 1, "max_size": 7, "timeout": 3.0, "reconnect_timeout": 3.0}


@pytest.mark.parametrize("command", ["runserver", "rundemo"])
def test_the_dev_server_keeps_no_persistent_connections(command):
    env = {"DATABASE_URL": "sqlite:///db.sqlite3", "DATABASE_CONN_MAX_AGE": "60"}
    assert database_settings(env, command, "127.0.0.1:8000")["CONN_MAX_AGE"] == 0
    assert database_settings(env, "drain_decisions")["CONN_MAX_AGE"] == 60


def test_every_setting_read_from_the_environment_is_documented_in_env_example():
    import re

    source = (ROOT / "gqlgov" / "settings.py").read_text()
    read = set(re.findall(r'env(?:\.\w+)?\(\s*"([A-Z_]+)"', source))
    documented = set(re.findall(r"^([A-Z_]+)=", (ROOT / ".env.example").read_text(), re.M))
    assert read - documented == set()


def compose_config(tmp_path) -> subprocess.CompletedProcess:
    shutil.copy(ROOT / "docker-compose.yml", tmp_path)
    shutil.copytree(ROOT / "deploy", tmp_path / "deploy")
    shutil.copy(ROOT / ".env.example", tmp_path / ".env")
    return subprocess.run(["docker-compose", "config"], cwd=tmp_path, capture_output=True, text=True, timeout=60)


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose not installed")
def test_docker_compose_file_is_valid(tmp_path):
    result = compose_config(tmp_path)
    assert result.returncode == 0, result.stderr
    for service in ("proxy:", "web:", "worker:", "beat:", "postgres:", "redis:", "moto:", "keycloak:"):
        assert service in result.stdout


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose not installed")
def test_docker_compose_publishes_only_nginx_and_gunicorn_trusts_only_its_network(tmp_path):
    import re

    import yaml

    config = yaml.safe_load(compose_config(tmp_path).stdout)
    proxy, web = config["services"]["proxy"], config["services"]["web"]
    assert "ports" not in web
    assert [(port["published"], port["target"]) for port in proxy["ports"]] == [(8000, 80)]
    assert proxy["environment"]["GQLGOV_UPSTREAM"] == "web:8000"
    assert any(
        volume.endswith("deploy/nginx/gqlgov.conf.template:/etc/nginx/templates/default.conf.template:ro")
        for volume in proxy["volumes"]
    )
    # nginx's body caps are the app's, from the same .env.
    example = dict(re.findall(r"^([A-Z_]+)=(.*)$", (ROOT / ".env.example").read_text(), re.M))
    for cap in ("GQLGOV_MAX_BODY_BYTES", "GQLGOV_MAX_SCHEMA_BYTES"):
        assert proxy["environment"][cap] == example[cap]
    # The client address is believed from the proxy's network, which holds nothing else but web.
    [edge] = config["networks"]["edge"]["ipam"]["config"]
    assert web["environment"]["GQLGOV_TRUSTED_PROXIES"] == edge["subnet"]
    assert list(proxy["networks"]) == ["edge"]
    on_edge = [name for name, service in config["services"].items() if "edge" in (service.get("networks") or {})]
    assert on_edge == ["proxy", "web"]


@pytest.mark.skipif(not Path(NGINX).exists(), reason="nginx not installed")
def test_the_committed_nginx_template_renders_a_valid_configuration(tmp_path):
    config = write_nginx_config(tmp_path, "127.0.0.1:8000", "80")
    result = subprocess.run(nginx_command(tmp_path, config, "-t"), capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr

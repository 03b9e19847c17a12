"""Deployment artefacts: production settings refuse to start without secrets; compose file is valid."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

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


def test_every_setting_read_from_the_environment_is_documented_in_env_example():
    import re

    source = (ROOT / "gqlgov" / "settings.py").read_text()
    read = set(re.findall(r'env(?:\.\w+)?\(\s*"([A-Z_]+)"', source))
    documented = set(re.findall(r"^([A-Z_]+)=", (ROOT / ".env.example").read_text(), re.M))
    assert read - documented == set()


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose not installed")
def test_docker_compose_file_is_valid(tmp_path):
    shutil.copy(ROOT / "docker-compose.yml", tmp_path)
    shutil.copytree(ROOT / "deploy", tmp_path / "deploy")
    shutil.copy(ROOT / ".env.example", tmp_path / ".env")
    result = subprocess.run(["docker-compose", "config"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    for service in ("web:", "worker:", "beat:", "postgres:", "redis:", "moto:", "keycloak:"):
        assert service in result.stdout

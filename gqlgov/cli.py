"""Shared plumbing for management commands: who acts, and service errors as CommandError."""

import getpass
from collections.abc import Callable
from typing import TypeVar

from django.core.management.base import BaseCommand, CommandError

from gqlgov.errors import ApiError

T = TypeVar("T")


def cli_actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:
        return "cli:unknown"


def run_service(call: Callable[[], T]) -> T:
    """Runs a service call; its ApiError becomes a one-line CommandError (exit 1, no traceback)."""
    try:
        return call()
    except ApiError as exc:
        raise CommandError(f"{exc.code}: {exc.message}") from exc


class VersionOptionCommand(BaseCommand):
    """A command whose own `--version N` option replaces Django's `--version` (which prints Django's)."""

    def create_parser(self, prog_name, subcommand, **kwargs):
        return super().create_parser(prog_name, subcommand, conflict_handler="resolve", **kwargs)

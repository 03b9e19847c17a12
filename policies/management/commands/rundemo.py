import copy
import logging
import logging.config
import os
import re
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

# Colour codes werkzeug (moto's HTTP server) puts around request lines; inside a JSON log line
# they are noise (and escaped to \u001b), so they are taken out of every record.
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


class _WithoutAnsi(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "\x1b" in message:
            record.msg, record.args = _ANSI.sub("", message), None
        return True


class Command(BaseCommand):
    help = (
        "`make run`: migrate, start an in-process moto server standing in for AWS, load the demo data "
        "(exporting the demo policy to moto) and serve on ADDR. Prints one block saying how to use it; "
        "the service's and moto's logs go to files under the data directory (var/) unless --verbose."
    )

    def add_arguments(self, parser):
        parser.add_argument("--addr", default="127.0.0.1:8000")
        parser.add_argument("--aws-port", type=int, default=5055, help="port of the in-process moto server")
        parser.add_argument("--verbose", action="store_true", help="print the service's and moto's logs here too")

    def handle(self, *args, **opts):
        from moto.server import ThreadedMotoServer

        logs = _route_logs(Path(settings.DATA_DIR), verbose=opts["verbose"])
        call_command("migrate", interactive=False, verbosity=0)
        port = opts["aws_port"]
        moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        moto.start()
        # moto accepts any credentials; the export reads them from the standard AWS chain.
        for name, value in (("AWS_ACCESS_KEY_ID", "demo"), ("AWS_SECRET_ACCESS_KEY", "demo")):
            os.environ.setdefault(name, value)
        try:
            call_command(
                "seed_demo", base_url=f"http://{opts['addr']}", aws_endpoint=f"http://127.0.0.1:{port}",
                stdout=self.stdout,
            )
            if logs:
                self.stdout.write(
                    f"  Logs: {logs[0]} (the service), {logs[1]} (moto, the AWS stand-in);"
                    " --verbose prints them here.\n  Stop with Ctrl-C.\n"
                )
            # Django's own banner would follow the block; with the logs in files it goes there too.
            banner = {} if opts["verbose"] else {"stdout": _FileStdout(logs[0])}
            call_command("runserver", opts["addr"], use_reloader=False, **banner)
        finally:
            moto.stop()


class _FileStdout:
    """A write-only stream appending to a file (runserver's banner, out of the way)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def write(self, text: str) -> None:
        with self.path.open("a", encoding="utf-8") as stream:
            stream.write(text)

    def flush(self) -> None:
        pass


def _route_logs(directory: Path, *, verbose: bool) -> tuple[Path, Path] | None:
    """Sends the service's log records to DIR/gqlgov.log and moto's (werkzeug's) to DIR/moto.log,
    keeping their JSON format; with `verbose`, they stay on the console. ANSI codes go either way.
    The settings' LOGGING is replaced, not only the handlers: runserver's WSGI handler runs
    django.setup() again, which would apply the original. Returns the two files (None: verbose)."""
    config = copy.deepcopy(settings.LOGGING)
    config.setdefault("filters", {})["without_ansi"] = {"()": f"{__name__}._WithoutAnsi"}
    console = config["handlers"]["console"]
    console["filters"] = [*console.get("filters", []), "without_ansi"]
    paths = None
    if not verbose:
        directory.mkdir(parents=True, exist_ok=True)
        paths = directory / "gqlgov.log", directory / "moto.log"
        file_handler = {key: value for key, value in console.items() if key != "class"}
        config["handlers"]["console"] = {**file_handler, "class": "logging.FileHandler", "filename": str(paths[0])}
        config["handlers"]["moto_file"] = {**file_handler, "class": "logging.FileHandler", "filename": str(paths[1])}
        loggers = config.setdefault("loggers", {})
        for name in ("werkzeug", "moto"):
            loggers[name] = {"handlers": ["moto_file"], "propagate": False}
    settings.LOGGING = config
    logging.config.dictConfig(config)
    return paths

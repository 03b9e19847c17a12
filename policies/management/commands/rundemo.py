import os

from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "`make run`: migrate, start an in-process moto server standing in for AWS, load the demo data "
        "(exporting the demo policy to moto) and serve on ADDR."
    )

    def add_arguments(self, parser):
        parser.add_argument("--addr", default="127.0.0.1:8000")
        parser.add_argument("--aws-port", type=int, default=5055, help="port of the in-process moto server")

    def handle(self, *args, **opts):
        from moto.server import ThreadedMotoServer

        call_command("migrate", interactive=False, verbosity=0)
        port = opts["aws_port"]
        moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        moto.start()
        # moto accepts any credentials; the export reads them from the standard AWS chain.
        for name, value in (("AWS_ACCESS_KEY_ID", "demo"), ("AWS_SECRET_ACCESS_KEY", "demo")):
            os.environ.setdefault(name, value)
        try:
            call_command(
                "seed_demo", base_url=f"http://{opts['addr']}", aws_endpoint=f"http://127.0.0.1:{port}"
            )
            call_command("runserver", opts["addr"], use_reloader=False)
        finally:
            moto.stop()

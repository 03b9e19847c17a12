import logging
import signal
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import Error as AnyDatabaseError  # DatabaseError and InterfaceError (a closed connection)
from django.db import close_old_connections

from gqlgov.errors import first_line
from gqlgov.redis import REDIS_ERRORS
from policies.checks.drainer import drain

logger = logging.getLogger("gqlgov.drain")


class Command(BaseCommand):
    help = (
        "Move decision records from the Redis stream into the database (GQLGOV_DECISION_STREAM). "
        "Drains until empty and exits, or with --follow keeps draining until SIGTERM/SIGINT."
    )

    def add_arguments(self, parser):
        parser.add_argument("--follow", action="store_true", help="keep draining (a long-running drainer)")
        parser.add_argument("--batch-size", type=int, default=500)

    def handle(self, *args, **opts):
        if not settings.GQLGOV_DECISION_STREAM:
            raise CommandError("GQLGOV_DECISION_STREAM is off (or REDIS_URL unset): records are stored synchronously.")
        stopping = []
        signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
        total = 0
        failed = False
        while True:
            # A blocking read returns at once when records arrive; the loop re-checks the stop flag each second.
            try:
                total += drain(batch_size=opts["batch_size"], block_ms=1000 if opts["follow"] else None,
                               retry_own_pending=failed)
                failed = False
            except (*REDIS_ERRORS, AnyDatabaseError) as error:
                if not opts["follow"]:
                    raise
                # Redis or the database is away: records wait on the stream (or in our pending list,
                # retried first once the drain succeeds again).
                logger.error("drain failed (%s); retrying in 1 s", first_line(error))
                failed = True
                close_old_connections()  # a connection the outage broke is replaced on the next try
                time.sleep(1)
            if not opts["follow"] or stopping:
                break
        self.stdout.write(f"{total} decision record(s) stored")

import json
import re
import sys
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from tqdm import tqdm

from gqlgov.cli import cli_actor, run_service
from policies.selectors import policy_version
from policies.services.replays import policy_replay

_SINCE = re.compile(r"^(\d{1,5})([mhd])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def since_delta(text: str) -> timedelta:
    """`30m`, `12h`, `7d` as a timedelta; anything else is a CommandError naming the format."""
    match = _SINCE.match(text)
    if match is None:
        raise CommandError(f"--since takes a number and a unit (m, h or d), like 7d; not {text!r}.")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


class Command(BaseCommand):
    help = (
        "Re-evaluate the checks recorded for SCHEMA against its policy version DRAFT_VERSION (and the schema version"
        " it is pinned to), without recording decisions or charging rate limits; report what would flip."
    )

    def add_arguments(self, parser):
        parser.add_argument("schema")
        parser.add_argument("draft_version", type=int)
        parser.add_argument("--since", default="7d", help="how far back: 30m, 12h, 7d (default 7d)")
        parser.add_argument("--json", action="store_true", help="print the summary as JSON")

    def handle(self, *args, **opts):
        since = timezone.now() - since_delta(opts["since"])
        version = run_service(lambda: policy_version(opts["schema"], opts["draft_version"]))
        bar = tqdm(total=0, unit="check", file=sys.stderr, disable=None, leave=False, desc="replay")

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        try:
            run = run_service(lambda: policy_replay(actor=cli_actor(), version=version, since=since,
                                                    on_progress=progress))
        finally:
            bar.close()
        summary = run.summary
        if opts["json"]:
            self.stdout.write(json.dumps(summary, indent=2, sort_keys=True))
            return
        self.stdout.write(_text(summary))


def _text(summary: dict) -> str:
    flips = summary["flips"]
    lines = [
        f"Replayed {summary['replayed']} checks of {summary['schema']} since {summary['since']} against policy"
        f" v{summary['policy_version']} (schema v{summary['schema_version']}):",
        f"  allow -> deny: {flips['allow_to_deny']}   deny -> allow: {flips['deny_to_allow']}"
        f"   -> pending: {flips['to_pending']}   pending -> : {flips['from_pending']}",
        f"  unchanged: {summary['unchanged']}   undetermined (redacted values decided): {summary['undetermined']}"
        f"   skipped (not decided by rules): {summary['skipped']}",
    ]
    for title, groups in (("By rule", summary["by_rule"]), ("By agent", summary["by_agent"])):
        if groups:
            lines.append(f"{title}:")
            lines += [f"  {name}: " + ", ".join(f"{flip} {count}" for flip, count in counts.items())
                      for name, counts in groups.items()]
    for flip, examples in summary["examples"].items():
        lines.append(f"Examples of {flip}:")
        lines += [f"  {example['agent']} ({example['rule']}): {example['document'][:200]}" for example in examples]
    return "\n".join(lines)

"""Reading gqlgov's settings as a fresh process with a given environment would see them."""

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def settings_value(environment: dict[str, str], expression: str) -> Any:
    """The JSON value of `expression` (over `settings`) after importing gqlgov.settings with
    `environment` added to this process's."""
    script = f"import json; from gqlgov import settings; print(json.dumps({expression}))"
    result = subprocess.run(
        [sys.executable, "-c", script], env={**os.environ, **environment}, cwd=ROOT,
        capture_output=True, text=True, check=True, timeout=60,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])

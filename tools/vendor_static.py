"""Builds the console's browser libraries from the npm registry into static files served locally.

What to build is data: static-vendor.json lists entries (kind "bundle": an esbuild bundle of a source
file; kind "copy": a file or directory from node_modules or the repository). The packages are pinned by
package-lock.json and installed with `npm ci` only when that lock changed. Standard library only, so
`make install`, CI and the Dockerfile's node stage run it before (or without) the virtualenv.

    python3 tools/vendor_static.py            # install what the lock pins (if changed), build every entry
"""

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIST = ROOT / "static-vendor.json"
LOCK = ROOT / "package-lock.json"
STAMP = ROOT / "node_modules" / ".gqlgov-lock-sha256"


def _npm_ci() -> None:
    """`npm ci` when node_modules does not match package-lock.json (a stamp holds the lock's hash)."""
    digest = hashlib.sha256(LOCK.read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text().strip() == digest:
        return
    if shutil.which("npm") is None:
        sys.exit("tools/vendor_static.py: npm is missing: apt-get install nodejs npm (or `make system-packages`).")
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=ROOT, check=True)
    STAMP.write_text(digest + "\n")


def _bundle(entry: dict, target: Path) -> None:
    esbuild = ROOT / "node_modules" / ".bin" / "esbuild"
    command = [
        str(esbuild),
        str(ROOT / entry["entry"]),
        "--bundle",
        "--minify",
        "--format=iife",
        "--target=es2020",
        "--legal-comments=eof",
        "--log-level=warning",
        f"--outfile={target}",
    ]
    subprocess.run(command, cwd=ROOT, check=True)


def _copy(entry: dict, target: Path) -> None:
    source = ROOT / entry["from"]
    if source.is_dir():
        shutil.copytree(source, target, dirs_exist_ok=True)
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)


BUILDERS = {"bundle": _bundle, "copy": _copy}


def build(spec_path: Path = LIST) -> list[Path]:
    """Every entry of the list built afresh under its output directory; returns the paths written."""
    spec = json.loads(spec_path.read_text())
    output = ROOT / spec["output"]
    _npm_ci()
    if output.exists():
        shutil.rmtree(output)
    output.mkdir(parents=True)
    written = []
    for entry in spec["entries"]:
        kind = entry.get("kind")
        if kind not in BUILDERS:
            sys.exit(f"static-vendor.json: unknown kind {kind!r} (one of {', '.join(BUILDERS)}).")
        target = output / entry["to"]
        BUILDERS[kind](entry, target)
        written.append(target)
    written.append(_write_manifest(output))
    return written


def _write_manifest(output: Path) -> Path:
    """manifest.json: the installed version of every package package.json names (the server reads it
    to tell a vendored library from a missing one)."""
    names = json.loads((ROOT / "package.json").read_text())["dependencies"]
    manifest = {
        name: {"version": json.loads((ROOT / "node_modules" / name / "package.json").read_text())["version"]}
        for name in names
    }
    target = output / "manifest.json"
    target.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return target


if __name__ == "__main__":
    for path in build():
        print(f"built {path.relative_to(ROOT)}")

"""Run a benchmark's ``run_scale`` once per firm scale, each in its own process (so peak RSS is that scale's)."""

import argparse
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(script: str, description: str, run_scale: Callable[..., dict],
         options: dict[str, tuple[str, str]] | None = None) -> tuple[argparse.Namespace, list[dict]]:
    """Parse ``--scales/--seed`` (and ``options``: ``{name: (default, help)}``, each ``--name`` passed on to the
    child and to ``run_scale`` as a keyword); in a child (``--one SCALE``) print ``run_scale``'s JSON and exit; in
    the parent run one child per scale and return the parsed arguments and each scale's figures (or error)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--scales", default="small,medium,large")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    for name, (default, text) in (options or {}).items():
        parser.add_argument(f"--{name}", default=default, help=text)
    args = parser.parse_args()
    extra = {name: getattr(args, name.replace("-", "_")) for name in options or {}}
    if args.one:
        print(json.dumps(run_scale(args.one, args.seed, **extra)))
        raise SystemExit(0)
    results = []
    forwarded = [part for name, value in extra.items() for part in (f"--{name}", value)]
    for scale in args.scales.split(","):
        out = subprocess.run([sys.executable, script, "--one", scale, "--seed", str(args.seed), *forwarded],
                             cwd=ROOT, capture_output=True, text=True)
        if out.returncode != 0:
            results.append({"scale": scale, "error": out.stderr.strip().splitlines()[-8:]})
            continue
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return args, results

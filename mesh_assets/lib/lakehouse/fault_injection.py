"""Chaos testing: kill this process at named points of a commit, when asked to.

Off unless armed (:func:`arm`) with a plan, e.g. ``after_data_files=0.3,after_commit=0.2``: at each named
point the process SIGKILLs itself with that probability (seeded). The CDC ingest arms it from the settings
``MESH_FAULT_INJECTION``, ``MESH_FAULT_SEED`` and ``MESH_FAULT_LOG`` (read by ``resources.settings``). The
crash-injection tests and benchmark use it to prove that no crash loses or duplicates a record.

Points: ``before_write`` (nothing written yet), ``after_data_files`` (Parquet files written, Iceberg
commit not done), ``between_commits`` (dead letters committed, rows not), ``after_commit`` (rows
committed, the run has not reported success).
"""

from __future__ import annotations

import os
import random
import signal
from functools import cache

ENV = "MESH_FAULT_INJECTION"
SEED_ENV = "MESH_FAULT_SEED"
#: When set, the point name is appended to this file just before the kill (to count crashes by point).
LOG_ENV = "MESH_FAULT_LOG"
POINTS = ("before_write", "after_data_files", "between_commits", "after_commit")


@cache
def _plan(spec: str, seed: str | None) -> tuple[dict[str, float], random.Random]:
    probabilities: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, _, probability = item.partition("=")
        if name not in POINTS:
            raise ValueError(f"{ENV}: unknown fault point {name!r}; known: {', '.join(POINTS)}")
        probabilities[name] = float(probability or 1.0)
    return probabilities, random.Random(seed)


_armed: tuple[str, str | None, str | None] | None = None


def arm(spec: str | None, seed: str | None = None, log: str | None = None) -> None:
    """Kill this process at the points of ``spec`` (``point=probability,...``; None or empty: never), drawing
    with ``seed`` and appending each point's name to the file ``log`` just before the kill."""
    global _armed
    if spec:
        _plan(spec, seed)  # a bad spec fails here, naming the point
    _armed = (spec, seed, log) if spec else None


def crash_point(name: str) -> None:
    """SIGKILL the current process here if the armed plan asks for it (no-op otherwise)."""
    if _armed is None:
        return
    spec, seed, log = _armed
    probabilities, rng = _plan(spec, seed)
    if rng.random() < probabilities.get(name, 0.0):
        if log:
            with open(log, "a", encoding="utf-8") as handle:
                handle.write(name + "\n")
        os.kill(os.getpid(), signal.SIGKILL)

"""How each job's steps run: in the run worker's own process.

Dagster's default executor starts one process per step (2-3 s each on an idle 2-core box, far more under
load), which costs more than most of our steps' work. Every job here is a chain of steps (each waits for
the one before), or its parallel steps share a one-slot pool, or its steps are short checks: in process,
a run costs what its work costs. A forked ``multiprocess_executor`` (``forkserver`` start method with
preloaded modules) was measured on ``bronze_sources``, the one job with independent I/O-bound steps, and
lost: its 44 steps took ~2 minutes for 7 steps forked vs 50 s for all 44 in process on the same loaded
box. docs/architecture.md ("Executors") lists which job uses what and why.
"""

from __future__ import annotations

from dagster import in_process_executor

#: Steps in a chain (or serialized by a one-slot pool, or short checks): every step in the run worker's process.
CHAIN = in_process_executor

"""How each job's steps run: in the run's own process, or in forked processes in parallel.

Dagster's default executor starts one process per step (2-3 s each on a 2-core box), which costs more
than most steps' work. A job whose steps form a chain (each waits for the one before it), or whose
parallel steps share a pool of one slot, runs in process: its run costs what its work costs. A job with
independent steps that wait on I/O (vendor files, Salesforce over HTTPS, Kafka) runs them in parallel in
processes forked from a forkserver that has imported the code location's heavy modules once.
docs/architecture.md ("Executors") lists which job uses which and why.
"""

from __future__ import annotations

from dagster import in_process_executor, multiprocess_executor

#: Modules the forkserver imports once, so each forked step starts with them loaded.
PRELOAD_MODULES = ["dagster", "pyarrow", "pandas", "duckdb", "pyiceberg.catalog.sql", "mesh_assets.definitions"]

#: Steps in a chain (or serialized by a one-slot pool): every step in the run worker's process.
CHAIN = in_process_executor

#: Independent I/O-bound steps: at most two at once (the box has two cores), forked from a preloaded forkserver.
PARALLEL = multiprocess_executor.configured(
    {"max_concurrent": 2, "start_method": {"forkserver": {"preload_modules": PRELOAD_MODULES}}},
    name="forkserver_executor",
)

"""``mesh stream-trades``: the development shortcut to the trade worker (``python -m trade_worker``, the command
deploy/ starts; also ``python -m mesh_dev.stream_cli``).

Same options and settings as :mod:`trade_worker.cli`, with one development default: the local broker is a
single node, so when ``MESH_ENV`` is ``local`` (the default) and ``MESH_KAFKA_REPLICATION_FACTOR`` /
``MESH_KAFKA_MIN_INSYNC_REPLICAS`` are not set, the output topics are created with 1 replica instead of the
production 3 (min.insync.replicas 2).
"""

from __future__ import annotations

import os

import typer

from trade_worker.cli import stream_trades as _run_worker
from trade_worker.topics import MIN_INSYNC_REPLICAS_VAR, REPLICATION_FACTOR_VAR


def _with_single_broker_topics(run):
    """``run`` with one-replica output topics by default when ``MESH_ENV`` is ``local``."""
    import functools

    @functools.wraps(run)
    def stream_trades(*args, **kwargs):
        from resources.settings import mesh_env

        if mesh_env() == "local":
            os.environ.setdefault(REPLICATION_FACTOR_VAR, "1")
            os.environ.setdefault(MIN_INSYNC_REPLICAS_VAR, "1")
        return run(*args, **kwargs)

    return stream_trades


stream_trades = _with_single_broker_topics(_run_worker)


if __name__ == "__main__":
    typer.run(stream_trades)

"""``python -m trade_worker``: the trade-stream worker's process (see :mod:`trade_worker.cli`)."""

from trade_worker.cli import main

if __name__ == "__main__":
    main()

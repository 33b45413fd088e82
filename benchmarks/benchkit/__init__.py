"""The benchmarks' kit: the pieces the scripts in ``benchmarks/`` share or are built from, one concept per module.

None of these modules is run by itself: run the scripts (``uv run python benchmarks/<script>.py``), whose folder is
then first on ``sys.path``, so they import this package as ``benchkit``.
"""

from pathlib import Path

#: The repository's root folder.
ROOT = Path(__file__).resolve().parents[2]

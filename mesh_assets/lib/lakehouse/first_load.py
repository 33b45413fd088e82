"""pyiceberg warns when a replace deletes nothing; on a partition's first load that is the expected case."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

#: pyiceberg's UserWarning when a delete (or the delete half of an overwrite) matches no row.
EMPTY_DELETE = "Delete operation did not match any records"


@contextmanager
def deleting_nothing_is_expected() -> Iterator[None]:
    """Inside the block, pyiceberg's "delete matched nothing" warning is not shown; every other warning is."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=EMPTY_DELETE, category=UserWarning)
        yield

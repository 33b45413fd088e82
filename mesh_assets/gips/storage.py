"""Reading and writing the GIPS tables one composite-year partition at a time."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from mesh_assets.gips.tables import PARTITION_COLUMN, partition_value
from mesh_assets.lib.lakehouse.partition_versions import (
    PartitionVersion,
    partition_version,
    read_partitions,
    replace_partition_if_changed,
)

if TYPE_CHECKING:
    from mesh_assets.lib.lakehouse.tables import TableSpec
    from resources.iceberg import IcebergCatalogResource


class MissingPartitionError(ValueError):
    """An upstream composite-year the computation needs was never materialized."""


@dataclass
class GipsStore:
    """The GIPS tables of one catalog; remembers the partition versions it read (for the report)."""

    iceberg: IcebergCatalogResource
    read_versions: dict[str, dict[str, Any]] | None = None

    def write(self, spec: TableSpec, frame: pd.DataFrame, composite_id: str, year: int,
              run_id: str | None = None) -> PartitionVersion:
        """Replace the composite-year's rows with ``frame`` (no commit when they are unchanged)."""
        import pyarrow as pa

        key = partition_value(composite_id, year)
        data = frame.copy()
        data.insert(0, "year", year)
        data.insert(0, "composite_id", composite_id)
        data.insert(0, PARTITION_COLUMN, key)
        rows = pa.Table.from_pandas(data.loc[:, spec.column_names], preserve_index=False).cast(spec.schema)
        properties = {"mesh.dagster.run_id": run_id} if run_id else {}
        return replace_partition_if_changed(self.iceberg.loader(spec), rows, PARTITION_COLUMN, key, properties)

    def write_many(self, spec: TableSpec, frames: dict[tuple[str, int], pd.DataFrame],
                   run_id: str | None = None) -> Any:
        """Replace the rows of every ``(composite id, year)`` in ``frames`` (empty frames too), in one commit."""
        import pyarrow as pa

        from mesh_assets.lib.lakehouse.snapshots import overwrite_partitions

        parts = []
        for (composite_id, year), frame in frames.items():
            data = frame.copy()
            data.insert(0, "year", year)
            data.insert(0, "composite_id", composite_id)
            data.insert(0, PARTITION_COLUMN, partition_value(composite_id, year))
            parts.append(pa.Table.from_pandas(data.loc[:, spec.column_names], preserve_index=False).cast(spec.schema))
        rows = pa.concat_tables(parts) if parts else spec.schema.empty_table()
        properties = {"mesh.dagster.run_id": run_id} if run_id else {}
        keys = [partition_value(c, y) for c, y in frames]
        return overwrite_partitions(self.iceberg.loader(spec), rows, PARTITION_COLUMN, keys, properties)

    def existing_years(self, spec: TableSpec, composite_id: str, years: list[int]) -> list[int]:
        """Those of ``years`` whose composite-year partition some snapshot of ``spec`` wrote."""
        table = self.iceberg.table(spec)
        return [y for y in years if partition_version(table, partition_value(composite_id, y))[0] is not None]

    @staticmethod
    def as_stored(spec: TableSpec, frame: pd.DataFrame, composite_id: str, year: int) -> pd.DataFrame:
        """``frame`` as :meth:`read` returns it after :meth:`write`: cast to the table's schema, same order."""
        import pyarrow as pa

        data = frame.copy()
        data.insert(0, "year", year)
        data.insert(0, "composite_id", composite_id)
        data.insert(0, PARTITION_COLUMN, partition_value(composite_id, year))
        rows = pa.Table.from_pandas(data.loc[:, spec.column_names], preserve_index=False).cast(spec.schema)
        return rows.to_pandas().drop(columns=[PARTITION_COLUMN, "composite_id"]).sort_values(
            [c for c in ("year", "portfolio_id", "month") if c in spec.column_names], kind="stable"
        ).reset_index(drop=True)

    def read_existing(self, spec: TableSpec, keys: list[tuple[str, int]]) -> pd.DataFrame:
        """Rows of those ``(composite id, year)`` partitions that exist (no error for the others)."""
        table = self.iceberg.table(spec)
        frame = read_partitions(table, PARTITION_COLUMN, [partition_value(c, y) for c, y in keys]).to_pandas()
        return frame.drop(columns=[PARTITION_COLUMN])

    def read(self, spec: TableSpec, composite_id: str, years: list[int]) -> pd.DataFrame:
        """Rows of the composite's ``years``; MissingPartitionError naming any year never materialized."""
        table = self.iceberg.table(spec)
        keys = [partition_value(composite_id, y) for y in years]
        missing = []
        for key in keys:
            snapshot_id, digest = partition_version(table, key)
            if snapshot_id is None:
                missing.append(key)
            elif self.read_versions is not None:
                self.read_versions.setdefault(spec.identifier, {})[key] = {"snapshot_id": snapshot_id,
                                                                           "sha256": digest}
        if missing:
            raise MissingPartitionError(
                f"{spec.identifier} has no partition {', '.join(missing)}: materialize the GIPS assets of composite "
                f"{composite_id} for {', '.join(k.split('|')[1] for k in missing)} first (`mesh gips report` "
                "materializes every year from the composite's inception in order)")
        frame = read_partitions(table, PARTITION_COLUMN, keys).to_pandas()
        return frame.drop(columns=[PARTITION_COLUMN, "composite_id"]).sort_values(
            [c for c in ("year", "portfolio_id", "month") if c in frame.columns], kind="stable").reset_index(drop=True)

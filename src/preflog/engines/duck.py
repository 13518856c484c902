"""The DuckDB engine: an archive whose scans (position window, types, order) DuckDB runs.

Local archives are read by DuckDB's own Parquet reader; ``s3://`` archives through a pyarrow
table handed to DuckDB (its httpfs extension may not be installable: no network for extensions).
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
from pyarrow import fs as pafs

from preflog.archive import ArchiveStore

_SELECT = "SELECT position, type, erased, event FROM {source} WHERE position > ? AND position <= ?"


class DuckArchiveStore(ArchiveStore):
    """An :class:`ArchiveStore` whose file groups DuckDB scans."""

    def _scan(self, paths: list[str], after: int, top: int, types: list[str] | None) -> pa.Table:
        import duckdb

        connection = duckdb.connect()
        try:
            query = _SELECT
            params: list[object] = [after, top]
            if types is not None:
                query += f" AND type IN ({', '.join('?' for _ in types)})"
                params += types
            query += " ORDER BY position"
            if isinstance(self.target.fs, pafs.LocalFileSystem):
                params.insert(0, paths)
                sql = query.format(source="read_parquet(?)")
            else:
                files = pa.concat_tables(pq.read_table(p, filesystem=self.target.fs) for p in paths)
                connection.register("files", files)
                sql = query.format(source="files")
            return connection.sql(sql, params=params).to_arrow_table()
        finally:
            connection.close()

"""The DuckDB engine: an archive whose scans (position window, types, order) DuckDB runs, and
which runs whole compiles in SQL where it can (:meth:`DuckArchiveStore.compile_vectorized`, see
:mod:`.vectorized`; anything else takes the one pipeline on DuckDB's scans).

Local archives are read by DuckDB's own Parquet reader; ``s3://`` archives through pyarrow
(its httpfs extension may not be installable: no network for extensions).
"""

from __future__ import annotations

import tempfile
from typing import TYPE_CHECKING, Final

import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq
from pyarrow import fs as pafs

from preflog.archive import ArchiveStore
from preflog.archive.rows import FORMAT
from preflog.compile.pipeline import Compiled, CompileJob

if TYPE_CHECKING:
    import duckdb

# DuckDB's share of the 2 GB a compile may use (docs/scaling.md): the final rows are sorted a bucket
# (~150 MB of texts) at a time (engines.buckets); beyond it a sort spills to a temporary directory.
DUCKDB_CONFIG: Final = {"memory_limit": "1GB"}
# Why an archive written before the typed text columns takes the pipeline (docs/scaling.md).
OUTDATED: Final = "archive format {} has no typed text columns; rerun preflog archive into a new directory"
_SELECT = "SELECT position, type, erased, event FROM {source} WHERE position > ? AND position <= ?"


class DuckArchiveStore(ArchiveStore):
    """An :class:`ArchiveStore` whose file groups DuckDB scans."""

    engine = "duckdb"

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

    def compile_vectorized(self, job: CompileJob) -> Compiled | str:
        """Run ``job`` in SQL over this archive's committed files up to ``job.watermark`` (see
        :mod:`.vectorized`), or answer why the pipeline must run it."""
        import duckdb

        from preflog.engines.vectorized import compile_rows

        paths = [p for _, _, group in self._groups for p in group]
        if not paths:
            return "empty archive"
        if self.format < FORMAT:
            return OUTDATED.format(self.format)
        with tempfile.TemporaryDirectory(prefix="preflog-duckdb-") as spill:
            connection = duckdb.connect(config={**DUCKDB_CONFIG, "temp_directory": spill})
            try:
                self._register(connection, paths, job.watermark)
                return compile_rows(connection, job)
            finally:
                connection.close()

    def _register(self, connection: duckdb.DuckDBPyConnection, paths: list[str], watermark: int) -> None:
        """The view ``ev``: the rows of ``paths`` up to ``watermark``."""
        if isinstance(self.target.fs, pafs.LocalFileSystem):
            listed = ", ".join("'" + p.replace("'", "''") + "'" for p in paths)
            source = f"read_parquet([{listed}], hive_partitioning = false)"
        else:
            connection.register("files", pads.dataset(paths, filesystem=self.target.fs, format="parquet"))
            source = "files"
        connection.execute(
            f"CREATE TEMP VIEW ev AS SELECT * FROM {source} WHERE position <= {int(watermark)}"
        )

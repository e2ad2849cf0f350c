"""``newsbeam compact``: merge a date partition's small Parquet files into few large ones.

Streaming runs write one file per batch, so a busy partition collects many small files.
Compaction rewrites ``TABLE/date=D/`` as one file per ``max_rows`` rows and swaps the whole
directory in one step, so a reader that lists ``date=D/*.parquet`` sees either every old file
or the merged ones, never both and never a part:

1. **snapshot** the visible files of ``TABLE/date=D`` and their row counts;
2. **stage**: read them, sort the rows by their identity (``transforms.write.ROW_KEYS``) and
   write them to ``OUTPUT/.newsbeam-compact/TABLE/date=D/part-<hash of the row ids>.parquet``
   (outside every reader's glob; the name comes from the content, so a re-run writes the same
   file), with a journal ``.compaction.json`` naming the inputs; row counts are checked and
   everything is fsynced.  Merged article rows get the roots of their ``duplicate_of`` and
   ``story_id`` chains (``pipelines/sql/views.sql``), so readers of the files see what the
   ``articles`` view shows;
3. **link**: files that appeared in the live partition since the snapshot are hard-linked into
   the staged directory, so they survive the swap;
4. **swap**: ``renameat2(RENAME_EXCHANGE)`` exchanges the staged and the live directories in one
   atomic rename (Linux, local filesystems). Where the kernel or filesystem cannot exchange,
   two renames are used (live → retired, staged → live) and the partition is absent between
   them: a reader then misses that partition's rows for the duration of one rename;
5. **settle**: files that reached the old directory after step 3 (a writer's late rename) are
   moved into the live one; the old directory is removed, then the journal.

A crash at any point leaves a readable partition with every row exactly once (except inside
the fallback's one-rename window), and the next ``compact`` finishes or undoes the interrupted
one from the journal before doing anything else. What it cannot promise: a reader that listed
the old files and opens one after the swap gets a "file not found" error (retry the query);
a batch that a running job writes while its partition is being swapped may fail its rename and
be retried by the runner. Hence ``min_age_s``: partitions written to recently are skipped.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from transforms.write import ROW_KEYS

WORK_DIR = ".newsbeam-compact"
JOURNAL = ".compaction.json"
RETIRED_SUFFIX = ".retired"
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2

Hook = Callable[[str], None]


class CompactionError(Exception):
    """Compaction refused or aborted; the partition is as it was."""


@dataclass(frozen=True)
class CompactionResult:
    table: str
    day: str
    files_before: int
    files_after: int
    rows: int
    bytes_before: int
    bytes_after: int
    skipped: str | None = None

    def describe(self) -> str:
        where = f"{self.table}/date={self.day}"
        if self.skipped:
            return f"{where}: skipped ({self.skipped})"
        return (
            f"{where}: {self.files_before} files -> {self.files_after} ({self.rows} rows, "
            f"{_size(self.bytes_before)} -> {_size(self.bytes_after)})"
        )


def _size(count: int) -> str:
    return f"{count / 1e6:.1f} MB" if count >= 100_000 else f"{count / 1e3:.1f} kB"


def visible_files(directory: Path) -> list[Path]:
    """The data files a reader's ``*.parquet`` glob is meant to see (hidden temporaries left out)."""
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.suffix == ".parquet" and not p.name.startswith("."))


def _fsync_dir(directory: Path) -> None:
    handle = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def exchange(first: Path, second: Path) -> bool:
    """Swap two paths atomically (Linux ``renameat2`` with ``RENAME_EXCHANGE``); False if unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    renameat2.restype = ctypes.c_int
    if renameat2(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.EXDEV):
        return False
    raise OSError(code, os.strerror(code), str(first))


def merged_name(table: pa.Table, keys: Sequence[str]) -> str:
    """``part-<hash>.parquet`` from the identities of the rows, as the pipeline's writer names files."""
    digest = hashlib.sha256()
    columns = [table.column(key).to_pylist() for key in keys]
    for values in zip(*columns, strict=True):
        digest.update(json.dumps([str(value) for value in values]).encode("utf-8"))
    return f"part-{digest.hexdigest()[:32]}.parquet"


def _num_rows(path: Path) -> int:
    return int(pq.ParquetFile(path).metadata.num_rows)


class _Partition:
    """The paths one compaction of ``OUTPUT/TABLE/date=D`` works with."""

    def __init__(self, output: Path, table: str, day: str) -> None:
        self.table = table
        self.day = day
        self.live = output / table / f"date={day}"
        work = output / WORK_DIR / table
        self.staged = work / f"date={day}"
        self.retired = work / f"date={day}{RETIRED_SUFFIX}"

    def journal(self, directory: Path) -> dict[str, list[str]] | None:
        path = directory / JOURNAL
        if not path.is_file():
            return None
        data: dict[str, list[str]] = json.loads(path.read_text(encoding="utf-8"))
        return data


def recover(output: str | Path, table: str, day: str) -> str | None:
    """Finish or undo an interrupted compaction of one partition; says what it did, if anything."""
    part = _Partition(Path(output), table, day)
    if not part.live.exists() and part.journal(part.staged) is not None:
        # The two-rename fallback stopped between its renames: the staged directory is complete.
        part.staged.rename(part.live)
        _fsync_dir(part.live.parent)
    journal = part.journal(part.live)
    if journal is None:
        if part.staged.exists():  # stopped before the swap: the live partition is untouched
            shutil.rmtree(part.staged)
            return "removed an unfinished staged copy"
        if part.retired.exists():
            raise CompactionError(
                f"{part.retired} exists without a journal in {part.live}; inspect it by hand"
            )
        return None
    if part.staged.exists():  # after an exchange the staged path holds the old directory
        part.staged.rename(part.retired)
    _settle(part, journal)
    return "finished an interrupted compaction"


def _settle(part: _Partition, journal: dict[str, list[str]], hook: Hook | None = None) -> None:
    """Move late arrivals from the old directory into the live one; remove the old one, then the journal."""
    if part.retired.exists():
        known = set(journal["inputs"]) | set(journal["linked"])
        for entry in sorted(part.retired.iterdir()):
            if entry.name not in known and not (part.live / entry.name).exists():
                entry.rename(part.live / entry.name)
        _fsync_dir(part.live)
        if hook:
            hook("moved")
        shutil.rmtree(part.retired)
    (part.live / JOURNAL).unlink(missing_ok=True)
    _fsync_dir(part.live)


def compact_partition(
    output: str | Path,
    table: str,
    day: str,
    *,
    max_rows: int = 1_000_000,
    min_age_s: float = 0.0,
    hook: Hook | None = None,
    allow_exchange: bool = True,
    roots: pa.Table | None = None,
) -> CompactionResult:
    """Compact ``OUTPUT/TABLE/date=DAY`` (see the module docstring); ``hook`` is called after each step.

    ``roots`` (articles: ``article_roots``, see ``with_roots``): the merged rows get the roots of
    their ``duplicate_of`` and ``story_id`` chains.
    """
    if table not in ROW_KEYS:
        raise CompactionError(f"unknown table {table!r}")
    recover(output, table, day)
    part = _Partition(Path(output), table, day)
    inputs = visible_files(part.live)
    skipped = _skip_reason(part.live, inputs, min_age_s)
    if skipped:
        rows = sum(_num_rows(path) for path in inputs)
        size = sum(path.stat().st_size for path in inputs)
        return CompactionResult(table, day, len(inputs), len(inputs), rows, size, size, skipped)

    # 1. snapshot
    expected = sum(_num_rows(path) for path in inputs)
    bytes_before = sum(path.stat().st_size for path in inputs)
    merged = pa.concat_tables(
        [pq.ParquetFile(path).read() for path in inputs], promote_options="default"
    ).sort_by([(key, "ascending") for key in ROW_KEYS[table]])
    if merged.num_rows != expected:
        raise CompactionError(f"{part.live}: read {merged.num_rows} rows, the footers say {expected}")
    if roots is not None:
        merged = with_roots(merged, roots)

    # 2. stage
    part.staged.parent.mkdir(parents=True, exist_ok=True)
    if part.staged.exists():
        shutil.rmtree(part.staged)
    part.staged.mkdir()
    try:
        written = _write_chunks(part.staged, merged, ROW_KEYS[table], max_rows)
        if sum(_num_rows(part.staged / name) for name in written) != expected:
            raise CompactionError(f"{part.staged}: merged files do not hold the {expected} rows read")
        journal = {"inputs": [path.name for path in inputs], "merged": written, "linked": []}
        _write_journal(part.staged, journal)
        if hook:
            hook("staged")

        # 3. link what a writer added since the snapshot
        for path in visible_files(part.live):
            if path.name not in journal["inputs"]:
                if (part.staged / path.name).exists():
                    raise CompactionError(f"{path.name} arrived in {part.live} and is also a merged name")
                os.link(path, part.staged / path.name)
                journal["linked"].append(path.name)
        _write_journal(part.staged, journal)
        _fsync_dir(part.staged)
        if hook:
            hook("linked")
    except Exception:  # (a crash or Ctrl-C leaves the staged copy: the next run removes it)
        shutil.rmtree(part.staged, ignore_errors=True)
        raise

    # 4. swap
    if allow_exchange and exchange(part.staged, part.live):
        _fsync_dir(part.live.parent)
        _fsync_dir(part.staged.parent)
        if hook:
            hook("swapped")
        part.staged.rename(part.retired)
    else:
        part.live.rename(part.retired)
        if hook:
            hook("half-swapped")
        part.staged.rename(part.live)
        _fsync_dir(part.live.parent)
        if hook:
            hook("swapped")
    _fsync_dir(part.retired.parent)

    # 5. settle
    _settle(part, journal, hook)
    after = visible_files(part.live)
    return CompactionResult(
        table,
        day,
        files_before=len(inputs),
        files_after=len(after),
        rows=expected,
        bytes_before=bytes_before,
        bytes_after=sum(part.live.joinpath(name).stat().st_size for name in written),
    )


def article_roots(output: Path) -> pa.Table:
    """``article_id, duplicate_root, story_root`` of every article with a chain, over the whole
    output (``pipelines/sql/views.sql``: a link may point into another partition)."""
    from pipelines.query import connect

    return (
        connect(output)
        .sql("SELECT article_id, duplicate_root, story_root FROM article_roots")
        .fetch_arrow_table()
    )


def with_roots(rows: pa.Table, roots: pa.Table) -> pa.Table:
    """``rows`` with ``duplicate_of`` and ``story_id`` replaced by their roots, where known."""
    if not roots.num_rows or "article_id" not in rows.column_names:
        return rows
    index = {a: i for i, a in enumerate(roots.column("article_id").to_pylist())}
    positions = pa.array([index.get(a) for a in rows.column("article_id").to_pylist()], pa.int64())
    for column, root in (("duplicate_of", "duplicate_root"), ("story_id", "story_root")):
        if column not in rows.column_names:
            continue
        found = roots.column(root).take(positions)
        current = rows.column(column)
        resolved = pc.if_else(pc.is_null(current), current, pc.coalesce(found, current))
        rows = rows.set_column(rows.column_names.index(column), rows.schema.field(column), resolved)
    return rows


def _skip_reason(directory: Path, inputs: list[Path], min_age_s: float) -> str | None:
    if len(inputs) < 2:
        return "nothing to merge" if inputs else "no files"
    if min_age_s > 0:
        newest = max(entry.stat().st_mtime for entry in directory.iterdir())
        age = time.time() - newest
        if age < min_age_s:
            return f"written to {age:.0f} s ago, less than --min-age {min_age_s:g} s"
    return None


def _write_chunks(directory: Path, merged: pa.Table, keys: Sequence[str], max_rows: int) -> list[str]:
    names = []
    for start in range(0, merged.num_rows, max_rows):
        chunk = merged.slice(start, max_rows)
        name = merged_name(chunk, keys)
        temporary = directory / f".{name}.tmp"
        pq.write_table(chunk, temporary, compression="zstd")
        _fsync_file(temporary)
        temporary.rename(directory / name)
        names.append(name)
    return names


def _write_journal(directory: Path, journal: dict[str, list[str]]) -> None:
    temporary = directory / f"{JOURNAL}.tmp"
    temporary.write_text(json.dumps(journal, indent=1), encoding="utf-8")
    _fsync_file(temporary)
    temporary.rename(directory / JOURNAL)


@contextmanager
def _exclusive(output: Path) -> Iterator[None]:
    """One ``compact`` at a time per output directory."""
    work = output / WORK_DIR
    work.mkdir(exist_ok=True)
    with open(work / "lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise CompactionError(f"another `newsbeam compact` is running on {output}") from None
        yield


def partitions(output: Path, table: str) -> list[str]:
    """The dates of ``OUTPUT/TABLE/date=*`` (and of partitions an interrupted compaction left staged)."""
    days = {p.name.removeprefix("date=") for p in (output / table).glob("date=*") if p.is_dir()}
    staged = output / WORK_DIR / table
    if staged.is_dir():
        days |= {p.name.removeprefix("date=").removesuffix(RETIRED_SUFFIX) for p in staged.glob("date=*")}
    return sorted(days)


def compact_output(
    output: str | Path,
    *,
    day: date | None = None,
    tables: Sequence[str] = ("articles", "failures"),
    min_age_s: float = 300.0,
    max_rows: int = 1_000_000,
    hook: Hook | None = None,
) -> list[CompactionResult]:
    """Compact every partition of ``tables`` (or only ``day``'s) under a local ``output``."""
    if "://" in str(output):
        raise CompactionError("compact works on local output directories only")
    root = Path(output)
    if not root.is_dir():
        raise CompactionError(f"{root}: no such directory")
    results = []
    with _exclusive(root):
        for table in tables:
            days = [day.isoformat()] if day else partitions(root, table)
            roots = article_roots(root) if table == "articles" and days else None
            for each in days:
                results.append(
                    compact_partition(
                        root, table, each, max_rows=max_rows, min_age_s=min_age_s, hook=hook, roots=roots
                    )
                )
    return results

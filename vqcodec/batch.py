"""Batches of records: compress_many and decompress_many, run here, in worker processes or on a Dask cluster, with
one typed result per record; neighbour of records.py, whose one-record functions each record runs.

A record that fails is a result (status failed, with its one-line error), never an exception, so the others go on
wherever they run. Each output is written to a temporary file and published whole under its name, so a worker
killed mid-record leaves no partial output; the records a dead process-pool worker had not finished run once
more in a fresh pool, as Dask reruns a dead worker's tasks. With `resume`, an input whose output is already there
and complete is skipped.

    results = vqcodec.compress_many(["data/ludb/"], "out/", jobs=2, max_error=2, summary="out/summary.csv")
    failed = [r for r in results if r.status is vqcodec.Status.FAILED]
"""

from __future__ import annotations

import csv
import json
import math
import os
import sys
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager, nullcontext, redirect_stderr
from dataclasses import asdict, dataclass, replace
from enum import Enum
from io import StringIO
from pathlib import Path
from typing import Any, TextIO, TypeVar

import click

from vqcodec.api import VqcInfo
from vqcodec.api import info as read_info
from vqcodec.errors import InputError, VqcError
from vqcodec.io import is_midi
from vqcodec.models.runtime import session_threads
from vqcodec.records import NO_ANNOTATIONS, compress_one, decoded_output, decompress_one, vqc_output

RECORD_PATTERNS = ("*.hea", "*.edf", "*.bdf", "*.npy", "*.mid", "*.midi")
"""What a folder given to compress stands for."""
VQC_PATTERNS = ("*.vqc",)
"""What a folder given to decompress stands for."""
SUMMARY_COLUMNS = ("record", "output", "bytes", "cr", "prdn", "bits_per_note", "seconds", "status", "error")
CSV_SUFFIX, JSONL_SUFFIX = ".csv", ".jsonl"
POOL_TRIES = 2
"""How many process pools a record may be unfinished in when a worker dies (killed, out of memory): the records a
broken pool had not finished are run once more in a fresh one, then given up."""
MESSAGE_PREFIX = "vqcodec: "
"""What the CLI puts before an error line; a result's `error` is the line without it."""
SKIPPED_NOTE = "skipped (complete)"
"""What a record skipped by resume says, and the summary line counts."""


class Status(str, Enum):
    """What became of one record of a batch."""

    OK = "ok"
    FAILED = "failed"
    SKIPPED = "skipped"  # resume: its output was already there and complete


@dataclass(frozen=True)
class RecordResult:
    """One record of a batch: where it went, what it cost and lost (as the .vqc file stores it), or why it failed.

    n_bytes is the .vqc file's size. cr is against the ADC resolution for ECG (as `vqcodec compress` prints it),
    against the .mid file for MIDI (compress only). prdn is the mean PRDN % over the channels (ECG), bits_per_note
    the file's bits per note (MIDI). said holds the lines the record printed (its summary line, its warnings, its
    error), which the CLI shows.
    """

    input: str
    output: str | None
    status: Status
    error: str = ""
    n_bytes: int | None = None
    cr: float | None = None
    prdn: float | None = None
    bits_per_note: float | None = None
    seconds: float = 0.0
    said: str = ""

    @property
    def ok(self) -> bool:
        """Whether the record's output is there: written now, or skipped as complete."""
        return self.status is not Status.FAILED

    def row(self) -> dict[str, Any]:
        """The record's summary row, in SUMMARY_COLUMNS order."""
        return {"record": self.input, "output": self.output, "bytes": self.n_bytes, "cr": _rounded(self.cr, 4),
                "prdn": _rounded(self.prdn, 4), "bits_per_note": _rounded(self.bits_per_note, 4),
                "seconds": _rounded(self.seconds, 3), "status": self.status.value, "error": self.error}


def _rounded(value: float | None, digits: int) -> float | None:
    return round(value, digits) if value is not None and math.isfinite(value) else None


@dataclass(frozen=True)
class CompressSettings:
    """The options of `vqcodec compress` that each record is compressed with (their meaning: `compress --help`)."""

    quality: int | None = None
    model: str | None = None
    max_error: int | None = None
    lossless: bool = False
    max_prdn: float | None = None
    fs: float | None = None
    channels: str | None = None
    force: bool = False
    annotations: str | None = None  # None: the annotation files found beside a WFDB record; NO_ANNOTATIONS: none
    anonymize: bool = False  # an EDF file's patient and recording fields blanked in the header kept


@dataclass(frozen=True)
class DecompressSettings:
    """The options of `vqcodec decompress` that each file is decoded with."""

    model: str | None = None
    force: bool = False
    salvage: bool = False
    start: float | None = None
    end: float | None = None
    anonymize: bool = False  # an EDF file written with its patient and recording fields blanked


@dataclass(frozen=True)
class Task:
    """One record of a batch, as sent (pickled) to whatever runs it: the input, its -o value, the settings."""

    path: Path
    output_arg: str | None
    settings: CompressSettings | DecompressSettings
    resume: bool = False
    threads: int | None = None


# --- what one record does (in whatever process runs it) ---------------------------------------------------------


def _whole_vqc(path: Path) -> VqcInfo | None:
    """The file's info when it is a whole .vqc file (it parses and every CRC holds), else None."""
    try:
        found = read_info(path)
    except VqcError:
        return None
    return None if found.damage else found


def _figures(found: VqcInfo, source_bytes: int | None = None) -> dict[str, Any]:
    """bytes, CR, PRDN or bits/note of a .vqc file, from what it stores (as RecordResult fields)."""
    if found.kind == "midi":
        notes, size = found.n_samples, found.n_bytes
        return {"n_bytes": size, "cr": source_bytes / size if source_bytes and size else None,
                "bits_per_note": 8 * size / notes if notes else None}
    prdns = [float(ch["prdn"]) for ch in found.metrics.get("channels", [])
             if isinstance(ch, dict) and isinstance(ch.get("prdn"), (int, float)) and math.isfinite(ch["prdn"])]
    return {"n_bytes": found.n_bytes, "cr": found.cr if math.isfinite(found.cr) else None,
            "prdn": sum(prdns) / len(prdns) if prdns else None}


def _source_bytes(record: Path) -> int | None:
    try:
        return record.stat().st_size if is_midi(record) else None
    except OSError:
        return None


def skip_if_complete(task: Task) -> RecordResult | None:
    """With resume: the skipped result when the task's output is already there and complete, else None. An output
    that is there but not complete (a .vqc that fails its CRCs; a WFDB header without its .dat, or the reverse,
    left by a process killed between the two) is removed, and the record is run again."""
    if isinstance(task.settings, CompressSettings):
        output = vqc_output(task.path, task.output_arg)
        if not output.is_file():
            return None
        found = _whole_vqc(output)
        if found is not None:
            return _skipped(task, output, _figures(found, _source_bytes(task.path)))
        _remove([output], task)
        return None
    found = _whole_vqc(task.path)
    if found is None:
        return None  # decompress says what is wrong with it
    files = decoded_output(found, task.path, task.output_arg, whole=task.settings.start is None
                           and task.settings.end is None)
    if all(f.is_file() for f in files):
        return _skipped(task, files[0], _figures(found))
    _remove([f for f in files if f.is_file()], task)
    return None


def _skipped(task: Task, output: Path, figures: dict[str, Any]) -> RecordResult:
    return RecordResult(str(task.path), str(output), Status.SKIPPED, said=f"{task.path}: {SKIPPED_NOTE}: {output}\n",
                        **figures)


def _remove(files: list[Path], task: Task) -> None:
    for f in files:
        f.unlink()
        click.echo(f"{MESSAGE_PREFIX}warning: {task.path}: removed the incomplete output {f}, to write it again",
                   err=True)


def finished(task: Task, seconds: float, said: str = "") -> RecordResult:
    """The result of a task that ran without error: its output and the figures its .vqc file stores."""
    if isinstance(task.settings, CompressSettings):
        output = vqc_output(task.path, task.output_arg)
        found = _whole_vqc(output)
        figures = _figures(found, _source_bytes(task.path)) if found else {}
        return RecordResult(str(task.path), str(output), Status.OK, seconds=seconds, said=said, **figures)
    found = _whole_vqc(task.path)
    if found is None:  # decoded with --salvage: the output is there, the file's figures are not to be trusted
        return RecordResult(str(task.path), None, Status.OK, seconds=seconds, said=said)
    return RecordResult(str(task.path), str(decoded_output(found, task.path, task.output_arg)[0]), Status.OK,
                        seconds=seconds, said=said, **_figures(found))


def run_task(task: Task) -> RecordResult:
    """Run one record as `vqcodec compress` or `decompress` would, catching its errors: the result carries its
    one-line error and everything it printed, so that wherever it ran, the caller can show it."""
    one = compress_one if isinstance(task.settings, CompressSettings) else decompress_one
    started = time.perf_counter()
    said = StringIO()
    error, printed, skipped = "", False, None
    with redirect_stderr(said), warnings.catch_warnings():
        try:
            skipped = skip_if_complete(task) if task.resume else None
            if skipped is None:
                with session_threads(task.threads):
                    one(task.path, task.output_arg, **asdict(task.settings))
        except VqcError as e:
            error = str(e)
        except click.UsageError as e:
            error = f"{task.path}: {e.format_message()}"
        except OSError as e:
            error = f"{e.filename or task.path}: {e.strerror or e}"
        except MemoryError:
            error = f"{task.path}: out of memory"
        except SystemExit as e:  # the CLI's fail: its line is printed already
            if e.code not in (0, None):
                error, printed = _last_error(said.getvalue()) or f"{task.path}: failed", True
        if error and not printed:
            click.echo(MESSAGE_PREFIX + error, err=True)
    seconds = time.perf_counter() - started
    if error:
        return _failed(task, error, seconds, said.getvalue())
    if skipped is not None:
        return replace(skipped, seconds=seconds, said=said.getvalue() + skipped.said)
    return finished(task, seconds, said.getvalue())


def _last_error(said: str) -> str:
    lines = [line for line in said.splitlines() if line.startswith(MESSAGE_PREFIX)]
    return lines[-1].removeprefix(MESSAGE_PREFIX) if lines else ""


def _failed(task: Task, error: str, seconds: float, said: str) -> RecordResult:
    return RecordResult(str(task.path), None, Status.FAILED, error, seconds=seconds, said=said)


def lost(task: Task, why: str) -> RecordResult:
    """The result of a task whose worker never gave one back (it died, or the cluster lost it)."""
    error = f"{task.path}: {why}; nothing was written for it"
    return _failed(task, error, 0.0, MESSAGE_PREFIX + error + "\n")


def again(task: Task) -> Task:
    """A task run again after its worker died: with resume, since the worker may have published its output whole."""
    return replace(task, resume=True)


# --- where the records run -----------------------------------------------------------------------------------------

T = TypeVar("T")
R = TypeVar("R")


def run_unordered(fn: Callable[[T], R], tasks: Sequence[T], jobs: int = 1, client: Any = None,
                  on_lost: Callable[[T, str], R] | None = None,
                  retry: Callable[[T], T] = lambda t: t) -> Iterator[tuple[int, R]]:
    """fn over tasks, yielding (index, result) as each finishes: here in order, in `jobs` processes, or on a Dask
    cluster through `client` (a dask.distributed.Client). fn must not raise for a bad input (it returns a result
    saying so); a task whose worker dies is given on_lost(task, why), after one more run (as retry(task)) when the
    worker was one of a process pool."""
    if client is not None:
        yield from _on_dask(fn, tasks, client, on_lost)
    elif jobs > 1 and len(tasks) > 1:
        yield from _in_processes(fn, tasks, jobs, on_lost, retry)
    else:
        for i, task in enumerate(tasks):
            yield i, fn(task)


def _in_processes(fn: Callable[[T], R], tasks: Sequence[T], jobs: int, on_lost: Callable[[T, str], R] | None,
                  retry: Callable[[T], T]) -> Iterator[tuple[int, R]]:
    pending = dict(enumerate(tasks))
    pools = dict.fromkeys(pending, 0)
    while pending:
        broken: list[int] = []
        pool = ProcessPoolExecutor(min(jobs, len(pending)))
        try:
            futures = {pool.submit(fn, task): i for i, task in pending.items()}
            for future in as_completed(futures):
                i = futures[future]
                try:
                    result = future.result()
                except BrokenProcessPool:
                    broken.append(i)
                    continue
                del pending[i]
                yield i, result
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        if broken:
            warnings.warn(f"a worker process died (killed, or out of memory) with {len(broken)} record(s) unfinished; "
                          "nothing partial was written, and they run once more in a fresh pool", stacklevel=2)
        for i in sorted(broken):
            pools[i] += 1
            if pools[i] >= POOL_TRIES:
                why = f"its worker process died {POOL_TRIES} times (killed, or out of memory)"
                if on_lost is None:
                    raise VqcError(f"{pending[i]}: {why}")
                yield i, on_lost(pending.pop(i), why)
            else:
                pending[i] = retry(pending[i])


def _on_dask(fn: Callable[[T], R], tasks: Sequence[T], client: Any,
             on_lost: Callable[[T, str], R] | None) -> Iterator[tuple[int, R]]:
    from dask.distributed import as_completed as dask_completed

    futures = client.map(fn, list(tasks), pure=False)
    index = {future.key: i for i, future in enumerate(futures)}
    for future in dask_completed(futures):
        i = index[future.key]
        try:
            result = future.result()
        except Exception as e:  # a worker that died too often (KilledWorker), a lost connection
            if on_lost is None:
                raise
            result = on_lost(tasks[i], f"the Dask cluster could not run it ({type(e).__name__}: {e})")
        yield i, result


@contextmanager
def dask_client(scheduler: str, jobs: int) -> Iterator[Any]:
    """A Client of the cluster whose scheduler is at `scheduler`, or of a LocalCluster of `jobs` worker processes
    here for "local"; InputError without dask.distributed or when the cluster cannot be reached."""
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise InputError(f"--scheduler {scheduler}: needs dask.distributed (pip install 'vqcodec[dask]')") from None
    cluster = (LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True, dashboard_address=None)
               if scheduler == "local" else None)
    try:
        try:
            client = Client(cluster if cluster is not None else scheduler)
        except OSError as e:
            raise InputError(f"--scheduler {scheduler}: cannot reach the cluster ({e})") from None
        with client:
            yield client
    finally:
        if cluster is not None:
            cluster.close()


# --- what the caller sees: results, the summary file, the progress bar ---------------------------------------------


class SummaryWriter:
    """A batch's summary file, CSV or JSON lines by its suffix (.csv, .jsonl): one row per record, in
    SUMMARY_COLUMNS, written and flushed as the record finishes, so a batch stopped half way leaves the rows of the
    records it finished."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        suffix = self.path.suffix.lower()
        if suffix not in (CSV_SUFFIX, JSONL_SUFFIX):
            raise InputError(f"{self.path}: a summary is written as CSV or JSON lines: name it .csv or .jsonl")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file: TextIO = open(self.path, "w", newline="", encoding="utf-8")
        except OSError as e:
            raise InputError(f"{self.path}: cannot write the summary ({e.strerror or e})") from e
        self._csv = csv.DictWriter(self._file, SUMMARY_COLUMNS) if suffix == CSV_SUFFIX else None
        if self._csv is not None:
            self._csv.writeheader()
            self._file.flush()

    def write(self, result: RecordResult) -> None:
        row = result.row()
        if self._csv is not None:
            self._csv.writerow(row)
        else:
            self._file.write(json.dumps(row) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> SummaryWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


PROGRESS_FORMAT = "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}, {rate_noinv_fmt}]"
"""The bar: records done, time so far and to go, and records/s (never s/record)."""


@contextmanager
def progress_bar(total: int, what: str, enabled: bool) -> Iterator[Callable[[], None]]:
    """A tqdm bar on stderr over `total` records (a no-op when not enabled); yields the function that advances it.
    Lines written with `say` while it runs appear above it."""
    if not enabled:
        yield lambda: None
        return
    from tqdm import tqdm

    class Bar(tqdm):
        monitor_interval = 0  # no monitor thread: a process pool forks while the bar runs

    with Bar(total=total, desc=what, unit=" records", file=sys.stderr, bar_format=PROGRESS_FORMAT,
              dynamic_ncols=True) as bar:
        yield bar.update


def say(text: str, stream: TextIO | None = None) -> None:
    """Write lines to stderr (or `stream`), above a progress bar if one is running."""
    if text:
        from tqdm import tqdm

        tqdm.write(text, file=sys.stderr if stream is None else stream, end="")


def share_cores(tasks: Sequence[Task], jobs: int) -> list[Task]:
    """Tasks to run `jobs` at once on this machine: each record's onnxruntime gets an equal share of the cores
    unless its threads are set. Left alone, every worker's onnxruntime would use every core and `--jobs 2` would
    run slower than `--jobs 1` (benchmarks/results/scale.md); the thread count changes no byte of a file."""
    if jobs <= 1:
        return list(tasks)
    share = max(1, (os.cpu_count() or 1) // jobs)
    return [t if t.threads is not None else replace(t, threads=share) for t in tasks]


def collect(tasks: Sequence[Task], jobs: int = 1, client: Any = None, summary: str | os.PathLike | None = None,
            progress: bool = False, what: str = "records",
            on_result: Callable[[RecordResult], None] | None = None) -> list[RecordResult]:
    """Run the tasks, writing each record's summary row and calling on_result as it finishes; the results in the
    tasks' order."""
    results: list[RecordResult | None] = [None] * len(tasks)
    rows = SummaryWriter(summary) if summary is not None else nullcontext()
    with rows, progress_bar(len(tasks), what, progress) as advance:
        for i, result in run_unordered(run_task, tasks, jobs, client, lost, again):
            results[i] = result
            if isinstance(rows, SummaryWriter):
                rows.write(result)
            if on_result is not None:
                on_result(result)
            advance()
    return [r for r in results if r is not None]


def find_inputs(paths: Iterable[str | os.PathLike], patterns: tuple[str, ...]) -> list[Path]:
    """The inputs named: a file as it is, a folder as every file in it matching `patterns` (sorted); InputError
    when there is nothing to do."""
    named = [Path(paths)] if isinstance(paths, (str, os.PathLike)) else [Path(p) for p in paths]
    found: list[Path] = []
    for p in named:
        if p.is_dir():
            found += sorted({q for pattern in patterns for q in p.glob(pattern) if q.is_file()})
        else:
            found.append(p)
    if not found:
        raise InputError(f"{', '.join(map(str, named)) or 'no input'}: nothing to do (no {' or '.join(patterns)} "
                         "there)")
    return found


def compress_tasks(inputs: Sequence[Path], folder: Path, settings: CompressSettings, resume: bool = False,
                   threads: int | None = None) -> list[Task]:
    """One task per record, each writing folder/<record>.vqc (the name a single `vqcodec compress` gives it)."""
    return [Task(p, str(folder / vqc_output(p, None)), settings, resume, threads) for p in inputs]


def decompress_tasks(inputs: Sequence[Path], folder: Path, settings: DecompressSettings, resume: bool = False,
                     threads: int | None = None) -> list[Task]:
    """One task per .vqc file, each writing the record name it stores into folder."""
    return [Task(p, str(folder) + os.sep, settings, resume, threads) for p in inputs]


# --- the Python API ------------------------------------------------------------------------------------------------


def compress_many(paths: Iterable[str | os.PathLike], out_dir: str | os.PathLike, *, quality: int | None = None,
                  model: str | os.PathLike | None = None, max_error: int | None = None, lossless: bool = False,
                  max_prdn: float | None = None, fs: float | None = None,
                  channels: str | Sequence[str | int] | None = None, force: bool = False, resume: bool = False,
                  threads: int | None = None, jobs: int = 1, client: Any = None,
                  summary: str | os.PathLike | None = None, progress: bool = False,
                  on_result: Callable[[RecordResult], None] | None = None,
                  annotations: bool | str | Sequence[str] = True) -> list[RecordResult]:
    """Compress records (WFDB `NNN.hea`, `.npy` with fs, `.mid`; a folder stands for every record in it) into
    out_dir/<record>.vqc, the files `vqcodec compress` writes, byte for byte. Returns one RecordResult per record,
    in input order; a record that fails is a result with status FAILED and its error, and the others go on.

    The settings are compress's options (`vqcodec compress --help`); channels: names or 0-based numbers. force:
    overwrite existing outputs; resume: skip records whose output is already there and complete. threads:
    onnxruntime threads per record (default: every core, shared equally among `jobs` records run here). jobs:
    records at once, each in its own process; client: a `dask.distributed.Client` to run them on its cluster
    instead. summary: a .csv or .jsonl file, one row per record, written as each finishes. progress: a tqdm bar on
    stderr. on_result(result) is called here as each record finishes. annotations: a WFDB record's annotation files to
    store: True, those found beside it; False, none; else their extensions (`["atr"]`).
    """
    if isinstance(channels, Sequence) and not isinstance(channels, str):
        channels = ",".join(map(str, channels))
    named = (None if annotations is True else NO_ANNOTATIONS if annotations is False
             else annotations if isinstance(annotations, str) else ",".join(annotations))
    settings = CompressSettings(quality, _model_name(model), max_error, lossless, max_prdn, fs, channels, force,
                                named)
    tasks = compress_tasks(find_inputs(paths, RECORD_PATTERNS), Path(out_dir), settings, resume, threads)
    tasks = tasks if client is not None else share_cores(tasks, jobs)
    return collect(tasks, jobs, client, summary, progress, "compress", on_result)


def decompress_many(paths: Iterable[str | os.PathLike], out_dir: str | os.PathLike, *,
                    model: str | os.PathLike | None = None, salvage: bool = False, start: float | None = None,
                    end: float | None = None, force: bool = False, resume: bool = False,
                    threads: int | None = None, jobs: int = 1, client: Any = None,
                    summary: str | os.PathLike | None = None, progress: bool = False,
                    on_result: Callable[[RecordResult], None] | None = None) -> list[RecordResult]:
    """Decode .vqc files (a folder stands for every .vqc in it) into out_dir, each as the record name it stores:
    WFDB records, or .mid files. start, end: seconds, as `decompress --start/--end`. resume skips a file whose
    record is already there (its header and .dat, or its .mid). The rest as in compress_many; the results' figures
    are what each .vqc file stores.
    """
    settings = DecompressSettings(_model_name(model), force, salvage, start, end)
    tasks = decompress_tasks(find_inputs(paths, VQC_PATTERNS), Path(out_dir), settings, resume, threads)
    tasks = tasks if client is not None else share_cores(tasks, jobs)
    return collect(tasks, jobs, client, summary, progress, "decompress", on_result)


def _model_name(model: object) -> str | None:
    """A model given by name or bundle folder, as each worker loads its own codec from it."""
    if model is None or isinstance(model, str):
        return model
    if isinstance(model, os.PathLike):
        return os.fspath(model)  # type: ignore[return-value]
    raise InputError(f"model: give a model's name or bundle folder, not a {type(model).__name__} (each process that "
                     "runs records loads its own)")


__all__ = ["compress_many", "decompress_many", "RecordResult", "Status", "SummaryWriter", "SUMMARY_COLUMNS"]

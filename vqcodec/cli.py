"""Command line: `vqcodec compress | decompress | info | verify | bench`, over `vqcodec.api`, the codecs,
`vqcodec.records` (one input) and `vqcodec.batch` (several inputs).

Every VqcError becomes one stderr line "<file>: <problem>" and exit status 1; Ctrl-C exits 130.
Outputs are written to a temporary file and renamed, and never overwrite without --force; `-o` may name a folder
(an existing one, or any path ending in "/"), and missing folders on an output's path are created.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext, redirect_stderr
from dataclasses import asdict
from io import StringIO
from pathlib import Path
from typing import Any

import click
import numpy as np

from vqcodec import batch, io
from vqcodec.api import DEFAULT_MIDI_MODEL, DEFAULT_MODEL, read_file, write_bytes
from vqcodec.api import info as read_info
from vqcodec.ecg.codec import Codec
from vqcodec.ecg.file import EcgMeta
from vqcodec.ecg.signal import Signal
from vqcodec.errors import FormatError, InputError, VqcError
from vqcodec.midi.codec import NoteCodec
from vqcodec.models.bundle import ALIASES, MANIFEST, shipped_root
from vqcodec.models.runtime import session_threads
from vqcodec.records import EXIT_ERROR as EXIT_ERROR  # the exit status of a failure, for callers of main
from vqcodec.records import (
    NO_ANNOTATIONS,
    STDOUT,
    VQC_SUFFIX,
    annotations_left,
    compress_one,
    decompress_one,
    default_output,
    fail,
    is_folder,
    make_folder,
    salvageable,
    sample_span,
)

EXIT_INTERRUPTED = 130
ANONYMIZE_HELP = ("EDF or BDF input: keep its header with the patient and recording fields blanked as EDF+ writes "
                  "unknown ones (X X X X; Startdate X X X X); the start date and time stay")


class TimeOfRecord(click.ParamType):
    """A time from the record's start: seconds (`7200`, `90.5`) or `[hh:]mm:ss[.s]` (`2:00:00`, `1:30`)."""

    name = "time"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        if isinstance(value, (int, float)):
            return float(value)
        parts = str(value).strip().split(":")
        try:
            if len(parts) > 3 or any(not p for p in parts):
                raise ValueError
            numbers = [float(p) for p in parts]
        except ValueError:
            self.fail(f"{value!r} is not a time (seconds, or [hh:]mm:ss)", param, ctx)
        if any(x < 0 or not x == x for x in numbers) or any(x >= 60 for x in numbers[1:]):
            self.fail(f"{value!r} is not a time (seconds, or [hh:]mm:ss with minutes and seconds below 60)",
                      param, ctx)
        seconds = 0.0
        for x in numbers:
            seconds = seconds * 60 + x
        return seconds


class _LazyHelp(click.Option):
    """An option whose help text is made when --help is shown (from the installed bundles), not at every start."""

    def __init__(self, *args: Any, help_text: Callable[[], str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._help_text = help_text

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        self.help = self._help_text()
        return super().get_help_record(ctx)


def _ladder(alias: str) -> str:
    """'1-21 for ecg-v4 (default 6)': the quality levels a shipped bundle's manifest offers; '' when unreadable."""
    try:
        m = json.loads((shipped_root() / ALIASES[alias] / MANIFEST).read_bytes())
        levels = sorted(map(int, m["qualities"])) if m["kind"] == "ecg" else list(range(1, len(m["levels"]) + 1))
        return f"{levels[0]}-{levels[-1]} for {m['name']} (default {int(m['default_quality'])})"
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return ""


def _quality_help(what: str) -> Callable[[], str]:
    def text() -> str:
        ranges = [r for r in (_ladder(DEFAULT_MODEL), _ladder(DEFAULT_MIDI_MODEL)) if r]
        return f"{what}, higher is finer" + (f": {', '.join(ranges)}" if ranges else "")
    return text


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="vqcodec")
def cli() -> None:
    """Compress ECG records (WFDB, .npy) and piano performances (.mid) into .vqc files, and back."""


@cli.command()
@click.argument("records", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-o", "--output", "output_arg", default=None, metavar="PATH",
              help="output .vqc, or a folder to write <record>.vqc into (default: <record>.vqc here; - for stdout); "
                   "several inputs, or a folder of records, need a folder")
@click.option("-q", "--quality", type=int, default=None, cls=_LazyHelp,
              help_text=_quality_help("level of the model's quality ladder"))
@click.option("-m", "--model", default=None,
              help=f"model name or bundle folder (default: {DEFAULT_MODEL}, or {DEFAULT_MIDI_MODEL} for .mid input)")
@click.option("-e", "--max-error", type=click.IntRange(min=0), default=None,
              help="guarantee |error| <= E ADC units on every sample (adds a residual layer)")
@click.option("--lossless", is_flag=True, help="bit-exact ADC samples (the same as --max-error 0)")
@click.option("-p", "--max-prdn", type=click.FloatRange(min=0, min_open=True), default=None,
              help="the cheapest setting (quality level, or max error) whose PRDN on this record is at most P %")
@click.option("--fs", type=float, default=None, help="sampling rate of .npy input (Hz)")
@click.option("-c", "--channels", default=None,
              help="comma-separated channel names or 0-based numbers to compress (default: all; a record with "
                   "non-ECG channels needs it to pick the ECG ones, unless --max-error E < 4 or --lossless)")
@click.option("-f", "--force", is_flag=True, help="overwrite an existing output (and compress a record that fails its "
              "own checksum)")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=1, show_default=True,
              help="with several inputs: records compressed at once, each in its own process")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="run the inputs on a Dask cluster: its scheduler's address, or 'local' for --jobs worker processes "
                   "here (needs the [dask] extra)")
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="onnxruntime threads per record (default: every core, shared equally among --jobs records)")
@click.option("--resume", is_flag=True,
              help="skip inputs whose output is already there and complete (a .vqc file whose CRCs hold)")
@click.option("--summary", "summary_path", type=click.Path(path_type=Path), default=None, metavar="FILE",
              help="also write one row per record as each finishes (record, output, bytes, cr, prdn, bits_per_note, "
                   "seconds, status, error): CSV or JSON lines, by the suffix (.csv, .jsonl)")
@click.option("--annotations", "annotators", default=None, metavar="EXT[,EXT]",
              help="store these annotation files of a WFDB record (NNN.atr: atr), each byte for byte (default: "
                   "every file beside the record that wfdb.rdann reads)")
@click.option("--no-annotations", is_flag=True, help="store no annotation file")
@click.option("--anonymize", is_flag=True, help=ANONYMIZE_HELP)
def compress(records: tuple[Path, ...], output_arg: str | None, quality: int | None, model: str | None,
             max_error: int | None, lossless: bool, max_prdn: float | None, fs: float | None, channels: str | None,
             force: bool, jobs: int, scheduler: str | None, threads: int | None, resume: bool,
             summary_path: Path | None, annotators: str | None, no_annotations: bool, anonymize: bool) -> None:
    """Compress WFDB records (NNN, NNN.hea, NNN.dat), EDF or BDF files, .npy arrays or MIDI files into .vqc files; a
    folder stands for every record in it, and - for standard input (a .npy array or a MIDI file). With several
    inputs, one that fails is reported and the others go on. A WFDB record's annotation files are stored with it,
    and a --lossless file keeps its header text too, so that decompress gives back the original files byte for
    byte; an EDF file keeps its header and annotation signals. Signals that are not ECG (blood pressure,
    respiration, EEG ...) are coded without the model, in the same file: lossless, or within --max-error."""
    if no_annotations and annotators is not None:
        raise click.UsageError("--annotations and --no-annotations contradict each other")
    if annotators is not None and not [a for a in annotators.split(",") if a.strip()]:
        raise click.UsageError("--annotations needs an extension (atr, or atr,qrs; --no-annotations for none)")
    settings = batch.CompressSettings(quality, model, max_error, lossless, max_prdn, fs, channels, force,
                                      NO_ANNOTATIONS if no_annotations else annotators, anonymize)
    if _reads_stdin(records, resume, summary_path):
        with _stdin_file(_record_suffix) as path, session_threads(threads):
            compress_one(path, output_arg, **asdict(settings))
        return
    if len(records) == 1 and not records[0].is_dir():
        _single(batch.Task(records[0], output_arg, settings, resume, threads), summary_path)
        return
    inputs = batch.find_inputs(records, batch.RECORD_PATTERNS)  # a folder with nothing to do says so first
    tasks = batch.compress_tasks(inputs, _batch_folder(output_arg), settings, resume, threads)
    _run_batch("compressed", "compress", tasks, jobs, scheduler, summary_path)


def _batch_folder(output_arg: str | None) -> Path:
    """The folder several inputs are written into: -o naming a folder, else the current one."""
    if output_arg == STDOUT:
        raise click.UsageError("-o - takes one input")
    if output_arg is not None and not is_folder(output_arg):
        raise click.UsageError(f"several inputs need -o to be a folder (end it with {os.sep}), not {output_arg}")
    return Path(output_arg or ".")


def _run_batch(done: str, what: str, tasks: list[batch.Task], jobs: int, scheduler: str | None,
               summary_path: Path | None) -> None:
    """Run a batch (here, in `jobs` processes or on a Dask cluster), printing what each record says as it finishes,
    above a progress bar on a terminal, then one summary line; exit 1 if any record failed."""
    if scheduler in (None, "local"):  # this machine's cores, shared among the records run at once
        tasks = batch.share_cores(tasks, jobs)
    with batch.dask_client(scheduler, jobs) if scheduler is not None else nullcontext() as client:
        results = batch.collect(tasks, jobs, client, summary_path, progress=sys.stderr.isatty(), what=what,
                                on_result=lambda r: batch.say(r.said))
    failed = [r.input for r in results if r.status is batch.Status.FAILED]
    skipped = sum(r.status is batch.Status.SKIPPED for r in results)
    line = f"{len(results) - len(failed) - skipped} of {len(results)} {done}"
    line += f", {skipped} {batch.SKIPPED_NOTE}" if skipped else ""
    if failed:
        fail(f"{line}; failed: {', '.join(failed)}")
    click.echo(f"vqcodec: {line}", err=True)


def _single(task: batch.Task, summary_path: Path | None) -> None:
    """One input, run as always (its errors go to main), plus --resume and a one-row --summary."""
    if task.resume and task.output_arg != STDOUT:
        skipped = batch.skip_if_complete(task)
        if skipped is not None:
            click.echo(skipped.said, err=True, nl=False)
            if summary_path is not None:
                with batch.SummaryWriter(summary_path) as rows:
                    rows.write(skipped)
            return
    one = compress_one if isinstance(task.settings, batch.CompressSettings) else decompress_one
    if summary_path is None:
        with session_threads(task.threads):
            one(task.path, task.output_arg, **asdict(task.settings))
        return
    with batch.SummaryWriter(summary_path) as rows:  # a bad summary name is said before the work
        started, said = time.perf_counter(), _Tee(sys.stderr)
        try:
            with redirect_stderr(said), session_threads(task.threads):
                one(task.path, task.output_arg, **asdict(task.settings))
        except (VqcError, click.ClickException, SystemExit) as e:
            error = str(e) if isinstance(e, VqcError) else _said_error(said.getvalue(), e)
            rows.write(batch.RecordResult(str(task.path), None, batch.Status.FAILED, error,
                                          seconds=time.perf_counter() - started))
            raise
        if task.output_arg != STDOUT:
            rows.write(batch.finished(task, time.perf_counter() - started))


class _Tee(StringIO):
    """A text stream that also keeps what it passes on (to put a record's error line into its summary row)."""

    def __init__(self, out: Any) -> None:
        super().__init__()
        self._out = out

    def write(self, text: str) -> int:
        self._out.write(text)
        return super().write(text)

    def flush(self) -> None:
        self._out.flush()


def _said_error(said: str, e: BaseException) -> str:
    if isinstance(e, click.ClickException):
        return e.format_message()
    lines = [line.removeprefix(batch.MESSAGE_PREFIX) for line in said.splitlines()
             if line.startswith(batch.MESSAGE_PREFIX)]
    return lines[-1] if lines else "failed"


STDIN = "-"
"""The input that stands for standard input."""
STDIN_NAME = "<stdin>"
"""What messages call standard input."""
STDIN_RECORD = "stdin"
"""The record name a file compressed from standard input stores (and decompress writes by default)."""
_STDIN_KINDS = ((b"\x93NUMPY", io.NPY_SUFFIX), (b"MThd", io.MIDI_SUFFIXES[0]))
"""What compress reads from standard input, by its first bytes: a .npy array (with --fs) or a MIDI file."""


def _reads_stdin(inputs: tuple[Path, ...], resume: bool, summary_path: Path | None) -> bool:
    """Whether the input is standard input (-), which must then be the only one and goes with neither --resume nor
    --summary."""
    if not any(str(p) == STDIN for p in inputs):
        return False
    if len(inputs) > 1:
        raise click.UsageError("- (standard input) must be the only input")
    if resume or summary_path is not None:
        raise click.UsageError("--resume and --summary are for inputs that are files, not - (standard input)")
    return True


def _record_suffix(data: bytes) -> str:
    for magic, suffix in _STDIN_KINDS:
        if data.startswith(magic):
            return suffix
    raise InputError(f"{STDIN_NAME}: neither a .npy array nor a MIDI file (a WFDB record is read from its files: "
                     "name its .hea)")


@contextmanager
def _stdin_file(suffix_of: Callable[[bytes], str]) -> Iterator[Path]:
    """Standard input as a temporary file named "stdin" plus the suffix its bytes call for (the readers take
    paths); every message and error names <stdin>, not the temporary file."""
    data = sys.stdin.buffer.read()
    if not data:
        raise InputError(f"{STDIN_NAME}: empty (pipe a file into it)")
    suffix = suffix_of(data)
    with tempfile.TemporaryDirectory(prefix="vqcodec-stdin-") as tmp:
        path = Path(tmp) / f"{STDIN_RECORD}{suffix}"
        path.write_bytes(data)
        said = StringIO()
        try:
            with redirect_stderr(said):
                yield path
        except (VqcError, OSError) as e:
            e.args = tuple(a.replace(str(path), STDIN_NAME) if isinstance(a, str) else a for a in e.args)
            if isinstance(e, OSError) and e.filename == str(path):
                e.filename = STDIN_NAME
            raise
        finally:
            click.echo(said.getvalue().replace(str(path), STDIN_NAME), err=True, nl=False)


@cli.command()
@click.argument("vqc_files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-o", "--output", "output_arg", default=None, metavar="PATH",
              help="output record (out/100 -> out/100.hea + .dat; .npy for an array; .mid for a MIDI file), or a "
                   "folder to write the stored record name into (default: that name here); - for stdout (a MIDI "
                   "file, or an ECG record as .npy); several inputs, or a folder of .vqc files, need a folder")
@click.option("-m", "--model", default=None, help="model bundle folder (default: the one the file names)")
@click.option("-f", "--force", is_flag=True, help="overwrite existing outputs (and write binary data to a terminal)")
@click.option("--anonymize", is_flag=True, help="an EDF or BDF output: write its patient and recording fields "
              "blanked as EDF+ writes unknown ones (X X X X; Startdate X X X X)")
@click.option("--salvage", is_flag=True,
              help="decode a damaged file: ignore bytes after END, write the samples of blocks that fail their "
                   "CRC as invalid, and warn about each")
@click.option("--start", type=TimeOfRecord(), default=None, metavar="TIME",
              help="decode from this time on, in seconds or [hh:]mm:ss (an ECG record; only the blocks the range "
                   "needs are decoded)")
@click.option("--end", type=TimeOfRecord(), default=None, metavar="TIME",
              help="decode up to this time (default: the record's end)")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=1, show_default=True,
              help="with several inputs: files decoded at once, each in its own process")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="run the inputs on a Dask cluster: its scheduler's address, or 'local' for --jobs worker processes "
                   "here (needs the [dask] extra)")
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="onnxruntime threads per file (default: every core, shared equally among --jobs files)")
@click.option("--resume", is_flag=True,
              help="skip files whose record is already there (its WFDB header, .dat and annotation files, or its "
                   ".mid)")
@click.option("--summary", "summary_path", type=click.Path(path_type=Path), default=None, metavar="FILE",
              help="also write one row per file as each finishes (record, output, bytes, cr, prdn, bits_per_note, "
                   "seconds, status, error): CSV or JSON lines, by the suffix (.csv, .jsonl)")
def decompress(vqc_files: tuple[Path, ...], output_arg: str | None, model: str | None, force: bool, salvage: bool,
               start: float | None, end: float | None, jobs: int, scheduler: str | None, threads: int | None,
               resume: bool, summary_path: Path | None, anonymize: bool) -> None:
    """Decode .vqc files back to WFDB records (or .npy), or MIDI files; a folder stands for every .vqc in it, and -
    for standard input. With several inputs, one that fails is reported and the others go on."""
    settings = batch.DecompressSettings(model, force, salvage, start, end, anonymize)
    if _reads_stdin(vqc_files, resume, summary_path):
        with _stdin_file(lambda data: VQC_SUFFIX) as path, session_threads(threads):
            if output_arg == STDOUT:
                _decompress_to_stdout(path, settings)
            else:
                decompress_one(path, output_arg, **asdict(settings))
        return
    if len(vqc_files) == 1 and not vqc_files[0].is_dir():
        if output_arg == STDOUT:
            with session_threads(threads):
                _decompress_to_stdout(vqc_files[0], settings)
            return
        _single(batch.Task(vqc_files[0], output_arg, settings, resume, threads), summary_path)
        return
    inputs = batch.find_inputs(vqc_files, batch.VQC_PATTERNS)  # a folder with nothing to do says so first
    tasks = batch.decompress_tasks(inputs, _batch_folder(output_arg), settings, resume, threads)
    _run_batch("decoded", "decompress", tasks, jobs, scheduler, summary_path)


def _decompress_to_stdout(vqc_file: Path, settings: batch.DecompressSettings) -> None:
    """decompress -o -: a MIDI file's .mid bytes, or an ECG record as a .npy array (a WFDB record is two files)."""
    from vqcodec.api import decompress as decompress_file

    if sys.stdout.isatty() and not settings.force:
        fail(f"{vqc_file}: refusing to write binary data to a terminal (redirect it, or use --force)")
    data = read_file(vqc_file)
    first, last = sample_span(data, vqc_file, settings.start, settings.end)
    try:
        decoded = decompress_file(data, settings.model, name=str(vqc_file), salvage=settings.salvage, start=first,
                                  stop=last)
    except FormatError as e:
        if not settings.salvage and salvageable(data):
            raise type(e)(f"{e} (decompress --salvage can recover the undamaged blocks)") from e
        raise
    suffix = io.NPY_SUFFIX if isinstance(decoded, Signal) else io.MIDI_SUFFIXES[0]
    with tempfile.TemporaryDirectory(prefix="vqcodec-") as tmp:  # the writers' own bytes, as a file gets them
        written = io.write(Path(tmp) / f"{STDIN_RECORD}{suffix}", decoded)
        sys.stdout.buffer.write(written[0].read_bytes())
        sys.stdout.buffer.flush()
    kept = read_info(data, name=str(vqc_file)).annotations if isinstance(decoded, Signal) else {}
    left = f"; {annotations_left(kept, 'standard output takes one file')}" if kept else ""
    click.echo(f"{vqc_file}: wrote {'a .npy array' if suffix == io.NPY_SUFFIX else 'a MIDI file'} to stdout{left}",
               err=True)


@cli.command()
@click.argument("vqc_file", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="print JSON instead of text")
def info(vqc_file: Path, as_json: bool) -> None:
    """Show a .vqc file's header: model, rate, duration, channels, size, stored metrics; exit 1 if it is damaged."""
    i = read_info(vqc_file)
    if as_json:
        click.echo(json.dumps(i.to_dict(), indent=1))
    else:
        click.echo("\n".join(i.lines()))
    if i.damage:  # the header is shown, but the file is not whole
        hint = " (decompress --salvage can recover the undamaged blocks)" if salvageable(read_file(vqc_file)) else ""
        fail(f"{vqc_file}: damaged: {'; '.join(i.damage)}{hint}")


def _vqc_files(paths: tuple[Path, ...]) -> list[Path]:
    """The .vqc files named, a folder standing for every .vqc below it (sorted); InputError for a missing path."""
    found: list[Path] = []
    for p in paths:
        if p.is_dir():
            found += sorted(q for q in p.rglob("*.vqc") if q.is_file())
        elif p.exists():
            found.append(p)
        else:
            raise InputError(f"{p}: no such file or folder")
    return found


_VERIFY_MODELS: dict[str | None, Any] = {}


def _verify_one(path: Path, model: str | None, against: Path | None) -> tuple[str, bool, str]:
    """One file's verdict as (path, ok, what): decoded whole in memory, never written; a worker keeps its models."""
    from vqcodec.api import verify as verify_file

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if model not in _VERIFY_MODELS:
                _VERIFY_MODELS[model] = None if model is None else _load_any(model)
            found = verify_file(path, _VERIFY_MODELS[model])
            note = "" if found.bound else " (no binding: written before format 1.8, CRCs and fingerprint only)"
            if against is not None:
                note += "; " + _against(path, against, _VERIFY_MODELS[model])
        return str(path), True, "OK" + note
    except VqcError as e:
        return str(path), False, "FAILED: " + str(e).removeprefix(f"{path}: ")


def _verify_task(task: tuple[Path, str | None, Path | None, int | None]) -> tuple[str, bool, str, float]:
    """One file's verdict and the seconds it took, with --threads onnxruntime threads."""
    path, model, against, threads = task
    started = time.perf_counter()
    with session_threads(threads):
        found = _verify_one(path, model, against)
    return (*found, time.perf_counter() - started)


def _verify_lost(task: tuple[Path, str | None, Path | None, int | None], why: str) -> tuple[str, bool, str, float]:
    return str(task[0]), False, f"FAILED: {why}", 0.0


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except OSError:
        return None


def _load_any(model: str) -> Codec | NoteCodec:
    try:
        return Codec.load(model)
    except VqcError:
        return NoteCodec.load(model)


def _against(path: Path, record: Path, model: Codec | NoteCodec | None) -> str:
    """Compare the decoded file with its source: the stored PRDN and max error must be what this decode gives."""
    from vqcodec.api import decompress as decompress_file
    from vqcodec.metrics import compare

    source = io.read(record)
    decoded = decompress_file(path, model)
    found = read_info(path)
    if not isinstance(source, Signal) or not isinstance(decoded, Signal):
        raise InputError(f"{path}: --against compares ECG records")
    if isinstance(found.meta, EcgMeta) and found.meta.aux:  # the stored figures are the main group's
        source, decoded = _main_group(source, found.meta, path), _main_group(decoded, found.meta, path)
    if source.samples.shape != decoded.samples.shape:
        raise FormatError(f"{path}: decodes to {decoded.samples.shape} samples, {record} has {source.samples.shape}")
    report = compare(source, decoded, found.n_bytes)
    stored = found.metrics.get("channels", [])
    for got, kept in zip(report.channels, stored, strict=False):
        if isinstance(kept, dict) and not _close(got.prdn, kept.get("prdn")):
            raise FormatError(f"{path}: {got.name}: PRDN {got.prdn:.4g} % against {record}, the file says "
                              f"{kept.get('prdn')}")
    if found.max_error is not None:
        gains = np.array([ch.gain for ch in source.channels])
        worst = float(np.nanmax(np.abs(source.samples - decoded.samples) * gains, initial=0.0))
        if worst > found.max_error + 1e-6:
            raise FormatError(f"{path}: max error {worst:g} ADC units against {record}, over the bound "
                              f"{found.max_error}")
    return f"matches {record}: PRDN {report.prdn:.3f} %, max error {report.max_err:.4g}"


def _main_group(signal: Signal, meta: EcgMeta, path: Path) -> Signal:
    """The channels of `signal` that are a file's main group (the positions its aux signals leave)."""
    taken = {a.position for a in meta.aux}
    main = [p for p in range(len(meta.channels) + len(meta.aux)) if p not in taken][: len(meta.channels)]
    have = signal.positions()
    if not set(main) <= set(have):
        raise FormatError(f"{path}: its signals {main} are not among the record's channels")
    return signal.select([have.index(p) for p in main])


def _close(a: float, b: object) -> bool:
    return isinstance(b, (int, float)) and abs(a - float(b)) <= 1e-3 + 1e-3 * abs(a)


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-m", "--model", default=None, help="model bundle folder (default: the one each file names)")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=1, show_default=True,
              help="files checked at once, each in its own process")
@click.option("--against", type=click.Path(path_type=Path), default=None,
              help="the source record of a single file: also check its stored PRDN and max error against it")
@click.option("--summary", "summary_path", type=click.Path(path_type=Path), default=None, metavar="FILE",
              help="also write every verdict: one row per file as it finishes for .csv or .jsonl (CSV, JSON lines), "
                   "else one JSON array")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="run the inputs on a Dask cluster: its scheduler's address, or 'local' for --jobs worker processes "
                   "here (needs the [dask] extra)")
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="onnxruntime threads per file (default: every core)")
def verify(paths: tuple[Path, ...], model: str | None, jobs: int, against: Path | None,
           summary_path: Path | None, scheduler: str | None, threads: int | None) -> None:
    """Check .vqc files (folders: every .vqc below them) whole, writing nothing: CRCs, the binding of header and
    sections, the header's promises, and a full decode against the stored fingerprint or signal digest. One line
    per file (OK, or FAILED and what); exit 1 if any file fails."""
    files = _vqc_files(paths)
    if against is not None and len(files) != 1:
        raise InputError(f"{against}: --against compares one .vqc file with its source, {len(files)} given")
    rows = (batch.SummaryWriter(summary_path) if summary_path is not None
            and summary_path.suffix.lower() in (batch.CSV_SUFFIX, batch.JSONL_SUFFIX) else None)
    found: list[tuple[str, bool, str, float] | None] = [None] * len(files)
    tasks = [(f, model, against, threads) for f in files]
    with (batch.dask_client(scheduler, jobs) if scheduler is not None else nullcontext()) as client, \
            rows if rows is not None else nullcontext(), \
            batch.progress_bar(len(files), "verify", sys.stderr.isatty()) as advance:
        for i, v in batch.run_unordered(_verify_task, tasks, jobs, client, _verify_lost):
            batch.say(f"{v[0]}: {v[2]}\n", sys.stdout)
            found[i] = v
            if rows is not None:
                rows.write(batch.RecordResult(v[0], None, batch.Status.OK if v[1] else batch.Status.FAILED,
                                              "" if v[1] else f"{v[0]}: {v[2].removeprefix('FAILED: ')}",
                                              n_bytes=_size(files[i]), seconds=v[3]))
            advance()
    verdicts = [v for v in found if v is not None]
    failed = sum(not ok for _, ok, _, _ in verdicts)
    if summary_path is not None and rows is None:
        write_bytes(summary_path, json.dumps([{"file": p, "ok": ok, "verdict": what} for p, ok, what, _ in verdicts],
                                             indent=1).encode() + b"\n", force=True)
    if failed:
        fail(f"{failed} of {len(verdicts)} files failed verification")
    click.echo(f"vqcodec: {len(verdicts)} file(s) verified, all OK", err=True)


@cli.command("tokens")
@click.argument("midi_file", type=click.Path(path_type=Path))
@click.option("-o", "--output", "output", type=click.Path(path_type=Path), default=None,
              help="the tokens file (default: the input's name with .npz)")
@click.option("-q", "--quality", type=int, default=None, help="midi-vq quality level (default: the model's)")
@click.option("-m", "--model", default=None, help="midi-vq model name or bundle folder (default: midi-vq)")
@click.option("-f", "--force", is_flag=True, help="overwrite an existing output")
def tokens_command(midi_file: Path, output: Path | None, quality: int | None, model: str | None, force: bool) -> None:
    """A MIDI file's midi-vq code indices per window, with its pitches and corrections, as a .npz file."""
    from vqcodec.midi import tokens as midi_tokens
    from vqcodec.midi import vq

    output = output or default_output(midi_file, ".npz")
    if output.exists() and not force:
        fail(f"{output}: already exists (use --force to overwrite)")
    codec = vq.load(model or midi_tokens.DEFAULT_VQ_MODEL)
    codec.check_quality(quality, str(midi_file))
    tok = midi_tokens.tokens(io.read_midi(midi_file), codec, quality, name=str(midi_file))
    make_folder(output)
    write_bytes(output, tok.to_bytes(), force)
    click.echo(f"{output}: {len(tok.pitch)} notes, {tok.indices.shape[0]} windows x {tok.level.stages} stages x "
               f"{tok.indices.shape[2]} codes of {tok.codes} (quality {tok.quality})", err=True)


@cli.command("detokenize")
@click.argument("tokens_file", type=click.Path(path_type=Path))
@click.option("-o", "--output", "output", type=click.Path(path_type=Path), default=None,
              help="the MIDI file (default: the input's name with .mid)")
@click.option("-m", "--model", default=None, help="model bundle folder (default: the one the tokens name)")
@click.option("-f", "--force", is_flag=True, help="overwrite an existing output")
def detokenize_command(tokens_file: Path, output: Path | None, model: str | None, force: bool) -> None:
    """A midi-vq tokens file (from `vqcodec tokens`) back to a MIDI file."""
    from vqcodec.midi import tokens as midi_tokens

    output = output or default_output(tokens_file, ".mid")
    if output.exists() and not force:
        fail(f"{output}: already exists (use --force to overwrite)")
    tok = midi_tokens.Tokens.from_bytes(read_file(tokens_file), str(tokens_file))
    perf = midi_tokens.detokenize(tok, model, str(tokens_file))
    make_folder(output)
    io.write_midi(output, perf, force)
    click.echo(f"{output}: {len(perf)} notes from {tokens_file}", err=True)


def main() -> None:
    """Entry point: run the CLI with one-line errors."""
    warnings.filterwarnings("ignore", module="wfdb")
    warnings.formatwarning = lambda msg, *a, **k: f"vqcodec: warning: {msg}\n"
    try:
        cli.main(standalone_mode=False)
    except (click.exceptions.Abort, KeyboardInterrupt):  # click turns Ctrl-C into Abort, silently
        click.echo("vqcodec: interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except click.ClickException as e:  # usage errors too: one line, exit 2
        click.echo(f"vqcodec: {e.format_message()}", err=True)
        sys.exit(e.exit_code)
    except VqcError as e:
        fail(str(e))
    except OSError as e:  # what the checks before it cannot foresee, e.g. a name longer than the system allows
        fail(f"{e.filename or 'vqcodec'}: {e.strerror or e}")
    except MemoryError:
        fail("out of memory")


@cli.command()
@click.argument("records", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--split-file", type=click.Path(path_type=Path), help="JSON {split: [record names]}, e.g. SPLITS.json")
@click.option("--split", help="bench only the records of this split (with --split-file)")
@click.option("--methods", default="all", show_default=True,
              help="comma-separated: vqcodec, zstd, flac, sz3, wavelet")
@click.option("-m", "--model", default=None,
              help=f"model name or bundle folder (default: {DEFAULT_MODEL}, or {DEFAULT_MIDI_MODEL} for MIDI)")
@click.option("-q", "--quality", "qualities", type=int, multiple=True, cls=_LazyHelp,
              help_text=_quality_help("vqcodec quality (repeat; default: all)"))
@click.option("-e", "--max-error", "max_errors", type=click.IntRange(min=0), multiple=True,
              help="vqcodec with a residual layer at this max error in ADC units (repeat; default: 0 1 2 5)")
@click.option("-p", "--max-prdn", "max_prdns", type=click.FloatRange(min=0, min_open=True), multiple=True,
              help="vqcodec choosing its level per record for this PRDN target in % (repeat; default: none)")
@click.option("--seconds", type=float, default=None, help="bench only the first SECONDS of each record")
@click.option("--beats/--no-beats", default=True, show_default=True,
              help="score QRS detection on reconstructions against .atr beat annotations")
@click.option("--json", "json_path", type=click.Path(path_type=Path), help="also write every number as JSON")
@click.option("--plot", "plot_dir", type=click.Path(path_type=Path),
              help="write the rate/distortion figure and an ECG overlay (PNG) into this folder")
@click.option("--overlay-record", default=None, help="record shown in the overlay (default: the first)")
@click.option("--overlay-method", default=None,
              help="method shown in the overlay, e.g. 'SZ3 eb=4' (default: vqcodec at the model's quality)")
@click.option("--overlay-window", type=(float, float), default=None,
              help="overlay start and length in seconds (default: the record's first seconds)")
def bench(records: tuple[Path, ...], split_file: Path | None, split: str | None, methods: str, model: str | None,
          qualities: tuple[int, ...], max_errors: tuple[int, ...], max_prdns: tuple[float, ...],
          seconds: float | None, beats: bool, json_path: Path | None,
          plot_dir: Path | None, overlay_record: str | None, overlay_method: str | None,
          overlay_window: tuple[float, float] | None) -> None:
    """Rate, distortion, speed and beat fidelity of vqcodec and the baselines on WFDB records or folders; on
    MIDI files (or folders of them), bits per note and what each method loses against .mid, zstd and packing.

    Prints Markdown tables on stdout; never writes into a folder that holds the records.
    """
    import shlex

    from vqcodec.bench import ecg as vb

    if _midi_inputs(records):
        _bench_midi(records, split_file, split, methods, model, qualities, json_path)
        return
    paths = vb.find_records(records, split_file, split)
    for out in (json_path, plot_dir):
        if out is not None:
            vb.check_output(out, paths)
    families = vb.FAMILIES if methods == "all" else tuple(m.strip().lower() for m in methods.split(",") if m.strip())
    codec = Codec.load(model or DEFAULT_MODEL) if vb.VQCODEC in families else None
    chosen, missing = vb.build_methods(families, codec, qualities, max_errors or vb.MAX_ERRORS, max_prdns)
    for why in missing.values():
        click.echo(f"vqcodec bench: skipped {why}", err=True)
    keep = vb.overlay_target(chosen, paths, codec, overlay_record, overlay_method) if plot_dir else None
    say = lambda msg: click.echo(f"vqcodec bench: {msg}", err=True)  # noqa: E731
    model_name = f"{codec.name} (sha256 {codec.model_id})" if codec else None
    result = vb.run(paths, chosen, seconds, beats, keep, model_name, missing, say)
    click.echo(vb.markdown(result), nl=False)
    if json_path is not None:
        write_bytes(json_path, vb.to_json(result, shlex.join(["vqcodec", *sys.argv[1:]])).encode(), force=True)
    if plot_dir is not None:
        for path in vb.write_plots(result, plot_dir, window=overlay_window or vb.OVERLAY_WINDOW):
            say(f"wrote {path}")


def _midi_inputs(records: tuple[Path, ...]) -> bool:
    """Whether bench was given MIDI files, or folders holding .mid files and no WFDB header."""
    return all(io.is_midi(p) or (p.is_dir() and not any(p.glob("*.hea")) and any(map(io.is_midi, p.iterdir())))
               for p in records)


def _bench_midi(records: tuple[Path, ...], split_file: Path | None, split: str | None, methods: str,
                model: str | None, qualities: tuple[int, ...], json_path: Path | None) -> None:
    """`vqcodec bench` on MIDI: vqcodec's levels (unless --methods leaves it out) and the MIDI baselines."""
    from vqcodec.bench import ecg as vb
    from vqcodec.bench import midi as midibench

    pieces = vb.find_records(records, split_file, split, midi=True)
    if json_path is not None:
        vb.check_output(json_path, pieces)
    wanted = methods == "all" or vb.VQCODEC in (m.strip().lower() for m in methods.split(","))
    codec = NoteCodec.load(model or DEFAULT_MIDI_MODEL) if wanted else None
    rows = midibench.run(pieces, codec, qualities or None, lambda m: click.echo(f"vqcodec bench: {m}", err=True))
    click.echo(midibench.markdown(rows, codec.default_quality if codec else None), nl=False)
    if json_path is not None:
        out = [{"method": r.method, "piece": r.piece, "encode_s": r.encode_s, "decode_s": r.decode_s,
                **r.report.to_dict()} for r in rows]
        write_bytes(json_path, (json.dumps(out, indent=1) + "\n").encode(), force=True)

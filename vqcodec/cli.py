"""Command line: `vqcodec compress | decompress | info | bench`, over `vqcodec.api` and the codecs.

Every VqcError becomes one stderr line "<file>: <problem>" and exit status 1; Ctrl-C exits 130.
Outputs are written to a temporary file and renamed, and never overwrite without --force; `-o` may name a folder
(an existing one, or any path ending in "/"), and missing folders on an output's path are created.
"""

from __future__ import annotations

import json
import os
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import redirect_stderr
from io import StringIO
from pathlib import Path
from typing import Any, NoReturn

import click
import numpy as np

from vqcodec import io
from vqcodec.api import DEFAULT_MIDI_MODEL, DEFAULT_MODEL, decode, read_file, write_bytes
from vqcodec.api import info as read_info
from vqcodec.container import format as vqc
from vqcodec.ecg.codec import MODEL_MIN_ERROR, Codec
from vqcodec.ecg.signal import Signal
from vqcodec.errors import ChannelError, CorruptSourceWarning, FormatError, InputError, VqcError
from vqcodec.metrics import Report
from vqcodec.midi.codec import NoteCodec
from vqcodec.models.bundle import ALIASES, MANIFEST, shipped_root

EXIT_ERROR = 1
EXIT_INTERRUPTED = 130
STDOUT = "-"


def _fail(message: str) -> NoReturn:
    click.echo(f"vqcodec: {message}", err=True)
    sys.exit(EXIT_ERROR)


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


def _is_folder(raw: str) -> bool:
    """Whether an -o value names a folder: it ends with a path separator, or is an existing folder."""
    return raw.endswith(("/", os.sep)) or Path(raw).is_dir()


def _make_folder(output: Path) -> None:
    """Create the folders on the way to an output file (`-o out/100` with no `out/` yet)."""
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InputError(f"{output}: cannot create its folder {output.parent} ({e.strerror or e})") from e


def _default_output(path: Path, suffix: str) -> Path:
    """The input's name in the current folder, its suffix replaced (`a.b.npy` -> `a.b.vqc`)."""
    return Path((path.stem if path.suffix else path.name) + suffix)


def _record_output(stored: object, vqc_file: Path) -> Path:
    """Default decompress output: the record name stored in the file, as a bare name in the current folder.

    The name comes from the file, so it may never pick a folder ("../x", "/etc/x") or hold control
    characters; anything that is not a plain name falls back to the .vqc file's stem. Dots become "_", since a
    WFDB record name may not hold one (`a.b.npy` is stored as record `a.b` and decodes to `a_b`).
    """
    name = Path(str(stored)).name if isinstance(stored, str) else ""
    if not name or name in (".", "..") or not name.isprintable():
        name = vqc_file.stem
    return Path(name.replace(".", "_"))


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
                   "here (needs the [cluster] extra)")
def compress(records: tuple[Path, ...], output_arg: str | None, quality: int | None, model: str | None,
             max_error: int | None, lossless: bool, max_prdn: float | None, fs: float | None, channels: str | None,
             force: bool, jobs: int, scheduler: str | None) -> None:
    """Compress WFDB records (NNN, NNN.hea, NNN.dat), .npy arrays or MIDI files into .vqc files; a folder stands for
    every record in it. With several inputs, one that fails is reported and the others go on."""
    settings = dict(quality=quality, model=model, max_error=max_error, lossless=lossless, max_prdn=max_prdn, fs=fs,
                    channels=channels, force=force)
    if len(records) == 1 and not records[0].is_dir():
        _compress_one(records[0], output_arg, **settings)  # type: ignore[arg-type]
        return
    inputs = _batch_inputs(records, _RECORD_PATTERNS)  # a folder with nothing to do says so first
    _batch("compressed", inputs, _compress_into, jobs, _batch_folder(output_arg), settings, scheduler)


_RECORD_PATTERNS = ("*.hea", "*.npy", "*.mid", "*.midi")
_VQC_PATTERNS = ("*.vqc",)


def _batch_folder(output_arg: str | None) -> Path:
    """The folder several inputs are written into: -o naming a folder, else the current one."""
    if output_arg == STDOUT:
        raise click.UsageError("-o - takes one input")
    if output_arg is not None and not _is_folder(output_arg):
        raise click.UsageError(f"several inputs need -o to be a folder (end it with {os.sep}), not {output_arg}")
    return Path(output_arg or ".")


def _batch_inputs(paths: tuple[Path, ...], patterns: tuple[str, ...]) -> list[Path]:
    """The inputs named: a file as it is, a folder as every file in it matching `patterns` (sorted)."""
    found: list[Path] = []
    for p in paths:
        if p.is_dir():
            found += sorted({q for pattern in patterns for q in p.glob(pattern) if q.is_file()})
        else:
            found.append(p)
    if not found:
        raise InputError(f"{', '.join(map(str, paths))}: nothing to do (no {' or '.join(patterns)} there)")
    return found


def _compress_into(path: Path, folder: Path, settings: dict) -> None:
    _compress_one(path, str(folder / _default_output(path, ".vqc")), **settings)


def _decompress_into(path: Path, folder: Path, settings: dict) -> None:
    _decompress_one(path, str(folder) + os.sep, **settings)


def _run_one(task: tuple[Callable[[Path, Path, dict], None], Path, Path, dict]) -> tuple[bool, str]:
    """One input of a batch: (whether it succeeded, the lines it printed). Its errors are one line, never raised,
    so that wherever it ran (here, another process, a Dask worker), the caller prints what it said."""
    one, path, folder, settings = task
    said = StringIO()
    ok = False
    with redirect_stderr(said), warnings.catch_warnings():
        try:
            one(path, folder, settings)
            ok = True
        except VqcError as e:
            click.echo(f"vqcodec: {e}", err=True)
        except click.UsageError as e:
            click.echo(f"vqcodec: {path}: {e.format_message()}", err=True)
        except OSError as e:
            click.echo(f"vqcodec: {e.filename or path}: {e.strerror or e}", err=True)
        except SystemExit as e:  # _fail: its line is printed already
            ok = e.code in (0, None)
    return ok, said.getvalue()


def _map(fn: Callable[[Any], Any], tasks: list, jobs: int, scheduler: str | None) -> Iterator[Any]:
    """fn over tasks, results in order: here, in `jobs` processes, or on a Dask cluster (a scheduler's address, or
    "local" for a LocalCluster of `jobs` worker processes on this machine)."""
    if scheduler is not None:
        try:
            from dask.distributed import Client, LocalCluster
        except ImportError:
            raise InputError(f"--scheduler {scheduler}: needs dask.distributed (pip install 'vqcodec[cluster]')") \
                from None
        cluster = (LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True, dashboard_address=None)
                   if scheduler == "local" else None)
        try:
            with Client(cluster if cluster is not None else scheduler) as client:
                for future in client.map(fn, tasks, pure=False):
                    yield future.result()
        except OSError as e:
            raise InputError(f"--scheduler {scheduler}: cannot reach the cluster ({e})") from None
        finally:
            if cluster is not None:
                cluster.close()
    elif jobs > 1 and len(tasks) > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(jobs) as pool:
            yield from pool.map(fn, tasks)
    else:
        yield from map(fn, tasks)


def _batch(done: str, inputs: list[Path], one: Callable[[Path, Path, dict], None], jobs: int, folder: Path,
           settings: dict, scheduler: str | None = None) -> None:
    """Run `one` on every input (here, in `jobs` processes or on a Dask cluster), printing what each says as it
    finishes, then one summary line; exit 1 if any input failed."""
    ok = []
    for good, said in _map(_run_one, [(one, p, folder, settings) for p in inputs], jobs, scheduler):
        click.echo(said, err=True, nl=False)
        ok.append(good)
    failed = [str(p) for p, good in zip(inputs, ok, strict=True) if not good]
    if failed:
        _fail(f"{len(inputs) - len(failed)} of {len(inputs)} {done}; failed: {', '.join(failed)}")
    click.echo(f"vqcodec: {len(inputs)} of {len(inputs)} {done}", err=True)


def _compress_one(record: Path, output_arg: str | None, quality: int | None, model: str | None,
                  max_error: int | None, lossless: bool, max_prdn: float | None, fs: float | None,
                  channels: str | None, force: bool) -> None:
    """compress, for one input."""
    midi = io.is_midi(record)
    if midi and (lossless or max_error is not None or max_prdn is not None or fs is not None or channels is not None):
        raise click.UsageError("--lossless, --max-error, --max-prdn, --fs and --channels are for ECG; MIDI takes "
                               "--quality")
    if lossless and max_error not in (None, 0):
        raise click.UsageError("--lossless and --max-error E > 0 contradict each other")
    max_error = 0 if lossless else max_error
    if max_prdn is not None and (quality is not None or max_error is not None):
        raise click.UsageError("--max-prdn picks the quality itself: it goes with neither --quality nor a max error")
    to_stdout = output_arg == STDOUT
    output = _default_output(record, ".vqc")
    if output_arg is not None and not to_stdout:
        output = Path(output_arg) / output if _is_folder(output_arg) else Path(output_arg)
    if to_stdout and sys.stdout.isatty() and not force:
        _fail(f"{record}: refusing to write binary .vqc data to a terminal (redirect it, or use --force)")
    if not to_stdout and output.exists() and not force:
        _fail(f"{output}: already exists (use --force to overwrite)")
    if not to_stdout and output.exists() and any(output.samefile(p) for p in io.record_paths(record)):
        _fail(f"{output}: is a file of the input record {record}; choose another output")
    if midi:
        codec_m = NoteCodec.load(model or DEFAULT_MIDI_MODEL)
        codec_m.check_quality(quality, str(record))  # before reading the file
        perf = io.read_midi(record)
        data, report = codec_m.compress(perf, quality, record.stat().st_size, name=record.stem)
        _emit(data, output, to_stdout, force)
        click.echo(f"{output if not to_stdout else record}: {report.summary()}", err=True)
        return
    with warnings.catch_warnings():
        if not force:  # a record that fails its own checksum is compressed only when asked
            warnings.simplefilter("error", CorruptSourceWarning)
        try:
            signal = io.read(record, fs)
        except CorruptSourceWarning as w:
            _fail(f"{w} (--force compresses it anyway)")
    assert isinstance(signal, Signal)  # MIDI input went to the NoteCodec above
    original_bytes: int | None = sum(p.stat().st_size for p in io.record_paths(record))
    if channels is not None:
        signal, original_bytes = _select_channels(signal, channels, record), None  # file bytes: the whole record's
    codec = Codec.load(model or DEFAULT_MODEL)
    try:  # the codec refuses channels its model does not take, unless the residual layer codes without it
        if max_prdn is None:
            data, report = codec.compress(signal, quality, original_bytes, max_error=max_error)
        else:
            data, report, setting = codec.compress_to_prdn(signal, max_prdn, original_bytes)  # lossless meets any P
    except ChannelError as e:
        hint = f"--channels {','.join(e.fit)}, or " if e.fit else ""
        _fail(f"{record}: model {codec.name} does not take channel(s) {', '.join(e.refused)}: it was trained on ECG "
              f"(use {hint}--lossless or --max-error below {MODEL_MIN_ERROR})")
    assert isinstance(report, Report)  # an ECG codec's
    _emit(data, output, to_stdout, force)
    level = f" [{setting}]" if max_prdn is not None else ""
    click.echo(f"{output if not to_stdout else record}: {_summary(report, signal)}{level}", err=True)


def _summary(report: Report, signal: Signal) -> str:
    """The report's line, its max error in the record's units and in ADC units (what --max-error bounds)."""
    units = sorted({ch.units.strip() or "mV" for ch in signal.channels})
    adc = max((c.max_err * ch.gain for c, ch in zip(report.channels, signal.channels)), default=0.0)
    unit = f" {units[0]}" if len(units) == 1 else f" (channels in {', '.join(units)})"
    return f"{report.summary()}{unit} = {adc:.3g} ADC unit{'' if adc == 1 else 's'}"


def _select_channels(signal: Signal, spec: str, record: Path) -> Signal:
    """The channels --channels names (names, or 0-based numbers), in that order."""
    names = [ch.name for ch in signal.channels]
    columns = []
    for item in (part.strip() for part in spec.split(",")):
        if item in names:
            columns.append(names.index(item))
        elif item.isdigit() and int(item) < len(names):
            columns.append(int(item))
        else:
            _fail(f"{record}: no channel {item!r} (it has {', '.join(names)})")
    if len(set(columns)) != len(columns):
        _fail(f"{record}: --channels names a channel twice ({spec})")
    return signal.select(columns)


def _emit(data: bytes, output: Path, to_stdout: bool, force: bool) -> None:
    """Write the .vqc bytes to stdout or, atomically, to the output file."""
    if to_stdout:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        _make_folder(output)
        write_bytes(output, data, force)


@cli.command()
@click.argument("vqc_files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-o", "--output", "output_arg", default=None, metavar="PATH",
              help="output record (out/100 -> out/100.hea + .dat; .npy for an array; .mid for a MIDI file), or a "
                   "folder to write the stored record name into (default: that name here); several inputs, or a "
                   "folder of .vqc files, need a folder")
@click.option("-m", "--model", default=None, help="model bundle folder (default: the one the file names)")
@click.option("-f", "--force", is_flag=True, help="overwrite existing outputs")
@click.option("--salvage", is_flag=True,
              help="decode a damaged file: ignore bytes after END, write the samples of blocks that fail their "
                   "CRC as invalid, and warn about each")
@click.option("--start", type=click.FloatRange(min=0), default=None, metavar="SECONDS",
              help="decode from this time on (an ECG record; only the blocks the range needs are decoded)")
@click.option("--end", type=click.FloatRange(min=0), default=None, metavar="SECONDS",
              help="decode up to this time (default: the record's end)")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=1, show_default=True,
              help="with several inputs: files decoded at once, each in its own process")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="run the inputs on a Dask cluster: its scheduler's address, or 'local' for --jobs worker processes "
                   "here (needs the [cluster] extra)")
def decompress(vqc_files: tuple[Path, ...], output_arg: str | None, model: str | None, force: bool, salvage: bool,
               start: float | None, end: float | None, jobs: int, scheduler: str | None) -> None:
    """Decode .vqc files back to WFDB records (or .npy), or MIDI files; a folder stands for every .vqc in it. With
    several inputs, one that fails is reported and the others go on."""
    settings = dict(model=model, force=force, salvage=salvage, start=start, end=end)
    if len(vqc_files) == 1 and not vqc_files[0].is_dir():
        _decompress_one(vqc_files[0], output_arg, **settings)  # type: ignore[arg-type]
        return
    inputs = _batch_inputs(vqc_files, _VQC_PATTERNS)  # a folder with nothing to do says so first
    _batch("decoded", inputs, _decompress_into, jobs, _batch_folder(output_arg), settings, scheduler)


def _decompress_one(vqc_file: Path, output_arg: str | None, model: str | None, force: bool, salvage: bool,
                    start: float | None = None, end: float | None = None) -> None:
    """decompress, for one input."""
    if start is not None or end is not None:
        _decompress_range(vqc_file, output_arg, model, force, start, end)
        return
    data = read_file(vqc_file)
    try:
        parsed = vqc.loads(data, str(vqc_file), salvage=salvage)  # a damaged file says so before any model lookup
    except FormatError as e:
        if not salvage and _salvageable(data):
            raise type(e)(f"{e} (decompress --salvage can recover the undamaged blocks)") from e
        raise
    output = _record_output(parsed.meta.record, vqc_file)
    if output_arg is not None:
        output = Path(output_arg) / output if _is_folder(output_arg) else Path(output_arg)
    if parsed.header.kind == "midi" and not io.is_midi(output):
        output = output.with_name(output.name + io.MIDI_SUFFIXES[0])
    signal = decode(parsed, model, str(vqc_file))
    _make_folder(output)
    written = io.write(output, signal, force)
    summary = f"{vqc_file}: wrote {', '.join(str(p) for p in written)}"
    lost, damage = getattr(parsed, "lost_blocks", {}), getattr(parsed, "damage", [])  # a MIDI file has no blocks
    if lost or damage:
        summary += (f"; SALVAGED from a damaged file: {len(lost)} of {parsed.header.n_blocks} blocks "
                    f"lost and written as invalid samples, {len(damage)} other problem(s) skipped (see the "
                    "warnings)")
    click.echo(summary, err=True)


def _decompress_range(vqc_file: Path, output_arg: str | None, model: str | None, force: bool,
                      start: float | None, end: float | None) -> None:
    """decompress --start/--end: only the samples of that time span (and the blocks they need)."""
    from vqcodec.api import decompress as decompress_file

    found = read_info(vqc_file)
    if found.kind != "ecg":
        raise InputError(f"{vqc_file}: --start and --end are for ECG records, this file holds {found.kind}")
    first = 0 if start is None else min(found.n_samples, round(start * found.fs))
    last = found.n_samples if end is None else min(found.n_samples, round(end * found.fs))
    if last <= first:
        raise InputError(f"{vqc_file}: --end must come after --start (the record lasts {found.duration:.1f} s)")
    signal = decompress_file(vqc_file, model, start=first, stop=last)
    assert isinstance(signal, Signal)
    output = _record_output(found.meta.record if found.meta else None, vqc_file)
    if output_arg is not None:
        output = Path(output_arg) / output if _is_folder(output_arg) else Path(output_arg)
    _make_folder(output)
    written = io.write(output, signal, force)
    click.echo(f"{vqc_file}: wrote samples {first}..{last - 1} ({first / found.fs:.1f} s to {last / found.fs:.1f} s) "
               f"to {', '.join(str(p) for p in written)}", err=True)


def _salvageable(data: bytes) -> bool:
    """Whether a file that failed to parse would parse with --salvage (its damage is confined to the blocks)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            vqc.loads(data, salvage=True)
    except VqcError:
        return False
    return True


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
        hint = " (decompress --salvage can recover the undamaged blocks)" if _salvageable(read_file(vqc_file)) else ""
        _fail(f"{vqc_file}: damaged: {'; '.join(i.damage)}{hint}")


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


def _verify_task(task: tuple[Path, str | None, Path | None]) -> tuple[str, bool, str]:
    return _verify_one(*task)


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


def _close(a: float, b: object) -> bool:
    return isinstance(b, (int, float)) and abs(a - float(b)) <= 1e-3 + 1e-3 * abs(a)


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-m", "--model", default=None, help="model bundle folder (default: the one each file names)")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=1, show_default=True,
              help="files checked at once, each in its own process")
@click.option("--against", type=click.Path(path_type=Path), default=None,
              help="the source record of a single file: also check its stored PRDN and max error against it")
@click.option("--summary", "summary_path", type=click.Path(path_type=Path), default=None,
              help="also write every verdict as JSON")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="run the inputs on a Dask cluster: its scheduler's address, or 'local' for --jobs worker processes "
                   "here (needs the [cluster] extra)")
def verify(paths: tuple[Path, ...], model: str | None, jobs: int, against: Path | None,
           summary_path: Path | None, scheduler: str | None) -> None:
    """Check .vqc files (folders: every .vqc below them) whole, writing nothing: CRCs, the binding of header and
    sections, the header's promises, and a full decode against the stored fingerprint or signal digest. One line
    per file (OK, or FAILED and what); exit 1 if any file fails."""
    files = _vqc_files(paths)
    if against is not None and len(files) != 1:
        raise InputError(f"{against}: --against compares one .vqc file with its source, {len(files)} given")
    verdicts = []
    for v in _map(_verify_task, [(f, model, against) for f in files], jobs, scheduler):
        click.echo(f"{v[0]}: {v[2]}")
        verdicts.append(v)
    failed = sum(not ok for _, ok, _ in verdicts)
    if summary_path is not None:
        write_bytes(summary_path, json.dumps([{"file": p, "ok": ok, "verdict": what} for p, ok, what in verdicts],
                                             indent=1).encode() + b"\n", force=True)
    if failed:
        _fail(f"{failed} of {len(verdicts)} files failed verification")
    click.echo(f"vqcodec: {len(verdicts)} file(s) verified, all OK", err=True)


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
        _fail(str(e))
    except OSError as e:  # what the checks before it cannot foresee, e.g. a name longer than the system allows
        _fail(f"{e.filename or 'vqcodec'}: {e.strerror or e}")
    except MemoryError:
        _fail("out of memory")


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

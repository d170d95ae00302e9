"""One input at a time, as `vqcodec compress` and `vqcodec decompress` run it: read, code, write the output (atomically,
never over an existing file without force) and say what was done; where each output goes. Neighbour of cli.py (the
commands, which parse options and call these) and batch.py (many inputs, each through these, in any process).

Every VqcError escapes to the caller; `fail` prints one line and exits 1, as the CLI does for what it checks itself.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import NoReturn

import click

from vqcodec import io
from vqcodec.api import DEFAULT_MIDI_MODEL, DEFAULT_MODEL, VqcInfo, decode, read_file, write_bytes
from vqcodec.api import info as read_info
from vqcodec.container import format as vqc
from vqcodec.ecg.codec import Codec
from vqcodec.ecg.file import EcgFile, EcgMeta
from vqcodec.ecg.signal import ChannelInfo, Signal
from vqcodec.errors import CorruptSourceWarning, FormatError, InputError, VqcError
from vqcodec.io import MIDI_SUFFIXES, NPY_SUFFIX, is_midi
from vqcodec.io.edf import EDF_SUFFIXES
from vqcodec.io.wfdb import DAT_SUFFIX, HEADER_SUFFIX, header_path, record_base
from vqcodec.metrics import Report
from vqcodec.midi.codec import NoteCodec

EXIT_ERROR = 1
"""The exit status of a failure."""
STDOUT = "-"
"""The output (-o) that stands for standard output."""
VQC_SUFFIX = ".vqc"
NO_ANNOTATIONS = ""
"""CompressSettings.annotations of `--no-annotations`: no annotation file is stored (else the extensions to store,
comma-separated)."""


def fail(message: str) -> NoReturn:
    """Say what failed in one line on stderr and exit with EXIT_ERROR."""
    click.echo(f"vqcodec: {message}", err=True)
    sys.exit(EXIT_ERROR)


def is_folder(raw: str) -> bool:
    """Whether an -o value names a folder: it ends with a path separator, or is an existing folder."""
    return raw.endswith(("/", os.sep)) or Path(raw).is_dir()


def make_folder(output: Path) -> None:
    """Create the folders on the way to an output file (`-o out/100` with no `out/` yet)."""
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InputError(f"{output}: cannot create its folder {output.parent} ({e.strerror or e})") from e


def default_output(path: Path, suffix: str) -> Path:
    """The input's name in the current folder, its suffix replaced (`a.b.npy` -> `a.b.vqc`)."""
    return Path((path.stem if path.suffix else path.name) + suffix)


def record_output(stored: object, vqc_file: Path) -> Path:
    """Default decompress output: the record name stored in the file, as a bare name in the current folder.

    The name comes from the file, so it may never pick a folder ("../x", "/etc/x") or hold control
    characters; anything that is not a plain name falls back to the .vqc file's stem. Dots become "_", since a
    WFDB record name may not hold one (`a.b.npy` is stored as record `a.b` and decodes to `a_b`).
    """
    name = Path(str(stored)).name if isinstance(stored, str) else ""
    if not name or name in (".", "..") or not name.isprintable():
        name = vqc_file.stem
    return Path(name.replace(".", "_"))


def vqc_output(record: Path, output_arg: str | None) -> Path:
    """Where `vqcodec compress RECORD -o OUTPUT_ARG` writes (not for -o -)."""
    output = default_output(record, VQC_SUFFIX)
    if output_arg is not None:
        output = Path(output_arg) / output if is_folder(output_arg) else Path(output_arg)
    return output


def decoded_output(found: VqcInfo, vqc_file: Path, output_arg: str | None, whole: bool = True) -> list[Path]:
    """The files `vqcodec decompress VQC_FILE -o OUTPUT_ARG` writes: a WFDB header and its .dat (and the record's
    annotation files, when `whole`: not for a time range), a .mid or a .npy (not for -o -)."""
    output = record_output(getattr(found.meta, "record", None), vqc_file)
    if output_arg is not None:
        output = Path(output_arg) / output if is_folder(output_arg) else Path(output_arg)
    if found.kind == "midi":
        return [output if is_midi(output) else output.with_name(output.name + MIDI_SUFFIXES[0])]
    output = edf_output(output, found.edf if whole else None)
    if output.suffix.lower() in (NPY_SUFFIX,) + EDF_SUFFIXES:
        return [output]
    base = record_base(output)
    annotations = [base.with_name(f"{base.name}.{ext}") for ext in sorted(found.annotations)] if whole else []
    return [header_path(base), base.with_name(base.name + DAT_SUFFIX)] + annotations  # as decompress writes them


def edf_output(output: Path, edf: str | None) -> Path:
    """Where a file that keeps an EDF header (`edf`: its suffix) decodes to: `output` when it names an EDF, a WFDB
    record (.hea, .dat) or an array, else `output` + .edf (or .bdf), as a MIDI file's output gets .mid."""
    if edf is None or output.suffix.lower() in (NPY_SUFFIX, DAT_SUFFIX, HEADER_SUFFIX) + EDF_SUFFIXES:
        return output
    return output.with_name(output.name + edf)


def compress_one(record: Path, output_arg: str | None, quality: int | None, model: str | None,
                 max_error: int | None, lossless: bool, max_prdn: float | None, fs: float | None,
                 channels: str | None, force: bool, annotations: str | None = None, anonymize: bool = False) -> None:
    """compress, for one input. annotations: None finds a WFDB record's annotation files, NO_ANNOTATIONS
    stores none, else the extensions to store (comma-separated). anonymize: an EDF file's header is kept with its
    patient and recording fields blanked."""
    midi = io.is_midi(record)
    edf = io.is_edf(record)
    if anonymize and not edf:
        raise click.UsageError(f"--anonymize is for EDF and BDF input, not {record.suffix or 'this input'}")
    if edf and (fs is not None or channels is not None):
        raise click.UsageError("--fs and --channels are for WFDB and .npy input: an EDF file states each signal's "
                               "rate, and every signal is kept (those that are not ECG without the model)")
    if midi and (lossless or max_error is not None or max_prdn is not None or fs is not None or channels is not None):
        raise click.UsageError("--lossless, --max-error, --max-prdn, --fs and --channels are for ECG; MIDI takes "
                               "--quality")
    if annotations and not io.is_wfdb(record):
        raise click.UsageError("--annotations names annotation files of a WFDB record (NNN.hea), not of "
                               f"{record.suffix or 'this input'}")
    if lossless and max_error not in (None, 0):
        raise click.UsageError("--lossless and --max-error E > 0 contradict each other")
    max_error = 0 if lossless else max_error
    if max_prdn is not None and (quality is not None or max_error is not None):
        raise click.UsageError("--max-prdn picks the quality itself: it goes with neither --quality nor a max error")
    to_stdout = output_arg == STDOUT
    output = vqc_output(record, None if to_stdout else output_arg)
    if to_stdout and sys.stdout.isatty() and not force:
        fail(f"{record}: refusing to write binary .vqc data to a terminal (redirect it, or use --force)")
    if not to_stdout and output.exists() and not force:
        fail(f"{output}: already exists (use --force to overwrite)")
    if not to_stdout and output.exists() and any(output.samefile(p) for p in io.record_paths(record)):
        fail(f"{output}: is a file of the input record {record}; choose another output")
    kept = _record_files(record, annotations, keep_header=max_prdn is not None or max_error == 0,
                         whole=channels is None)
    if midi:
        codec_m = NoteCodec.load(model or DEFAULT_MIDI_MODEL)
        codec_m.check_quality(quality, str(record))  # before reading the file
        perf = io.read_midi(record)
        data, report = codec_m.compress(perf, quality, record.stat().st_size, name=record.stem)
        _emit(data, output, to_stdout, force)
        click.echo(f"{output if not to_stdout else record}: {report.summary()}", err=True)
        return
    if edf:
        from vqcodec.api import compress_edf

        codec = Codec.load(model or DEFAULT_MODEL)
        data, report = compress_edf(record, codec, quality, max_error, max_prdn=max_prdn, anonymize=anonymize)
        assert isinstance(report, Report)
        _emit(data, output, to_stdout, force)
        meta = EcgMeta.from_json(vqc.read_header(data)[0].meta)
        click.echo(f"{output if not to_stdout else record}: {_summary(report, meta.channels)}{_routes(meta)}",
                   err=True)
        return
    load = cache(lambda: Codec.load(model or DEFAULT_MODEL))  # once, whichever path codes the record
    if io.is_wfdb(record) or record.suffix.lower() == io.NPY_SUFFIX:
        _compress_windows(record, output, to_stdout, quality, load, fs, channels, force, kept, max_error, max_prdn)
        return
    with warnings.catch_warnings():
        if not force:  # a record that fails its own checksum is compressed only when asked
            warnings.simplefilter("error", CorruptSourceWarning)
        try:
            signal = io.read(record, fs)
        except CorruptSourceWarning as w:
            fail(f"{w} (--force compresses it anyway)")
    assert isinstance(signal, Signal)  # MIDI input went to the NoteCodec above
    original_bytes: int | None = sum(p.stat().st_size for p in io.record_paths(record))
    if channels is not None:
        signal, original_bytes = _select_channels(signal, channels, record), None  # file bytes: the whole record's
    codec = load()
    # the channels the model does not take are coded without it, as aux signals (Codec.route)
    if max_prdn is None:
        data, report = codec.compress(signal, quality, original_bytes, max_error=max_error)
    else:
        data, report, setting = codec.compress_to_prdn(signal, max_prdn, original_bytes)  # lossless meets any P
    assert isinstance(report, Report)  # an ECG codec's
    data = _keep_record_files(data, report, kept, record)
    _emit(data, output, to_stdout, force)
    level = f" [{setting}]" if max_prdn is not None else ""
    meta = EcgMeta.from_json(vqc.read_header(data)[0].meta)
    click.echo(f"{output if not to_stdout else record}: {_summary(report, meta.channels)}{level}{_routes(meta)}",
               err=True)


def _routes(meta: EcgMeta) -> str:
    """Which way each signal went, for the summary line of a record with aux signals ("" for one without)."""
    if not meta.aux:
        return ""
    bound = {a.max_error for a in meta.aux}
    said = "lossless" if bound == {0} else f"max error {max(bound)}"
    main = ", ".join(ch.name for ch in meta.channels)
    aux = ", ".join(f"{a.channel.name} ({a.fs:g} Hz)" for a in meta.aux)
    if not meta.quality:
        return f"; every signal without the model ({said}): {main}, {aux}"
    return f"; model: {main}; without the model ({said}): {aux}"


@contextmanager
def _record_bar(label: str) -> Iterator[Callable[[float], None] | None]:
    """On a terminal, a progress bar over one long record (told the share done); elsewhere None."""
    if not sys.stderr.isatty():
        yield None
        return
    from tqdm import tqdm

    with tqdm(total=100, desc=label, unit="%", file=sys.stderr, leave=False, dynamic_ncols=True,
              bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed}<{remaining}") as bar:
        def advance(share: float) -> None:
            bar.update(round(100 * share) - bar.n)

        yield advance


def _record_files(record: Path, annotations: str | None, keep_header: bool,
                  whole: bool) -> tuple[dict[str, bytes], bytes | None]:
    """What a WFDB record keeps in its .vqc file besides the signal: its annotation files (found beside it, or those
    named, or none), and its header text where the file may be lossless (`keep_header`) with every channel
    (`whole`); nothing for other inputs."""
    from vqcodec.io.annotations import find_annotations, read_annotations

    if not io.is_wfdb(record):
        return {}, None
    if annotations == NO_ANNOTATIONS:
        files: dict[str, bytes] = {}
    elif annotations:
        files = read_annotations(record, [a.strip() for a in annotations.split(",") if a.strip()])
    else:
        notes: list[str] = []
        files = find_annotations(record, notes)
        for note in notes:
            warnings.warn(note, stacklevel=2)
    header = None
    if keep_header and whole:
        hea = io.header_path(io.record_base(record))
        try:
            header = hea.read_bytes()
        except OSError as e:
            raise InputError(f"{record}: cannot read {hea.name} ({e.strerror or e})") from e
    return files, header


def _keep_record_files(data: bytes, report: Report, kept: tuple[dict[str, bytes], bytes | None],
                       record: Path) -> bytes:
    """The .vqc bytes with the record's annotation files and (lossless files only) header text added; the report
    counts the bytes of the file written."""
    from vqcodec.ecg.file import with_record_files

    files, header = kept
    if not files and header is None:
        return data
    try:
        data = with_record_files(data, files, header, str(record))
    except ValueError as e:
        raise InputError(f"{record}: cannot keep its annotation files or header: {e}") from e
    report.n_bytes = len(data)
    return data


def _compress_windows(record: Path, output: Path, to_stdout: bool, quality: int | None, load: Callable[[], Codec],
                      fs: float | None, channels: str | None, force: bool,
                      kept: tuple[dict[str, bytes], bytes | None], max_error: int | None = None,
                      max_prdn: float | None = None) -> None:
    """compress of a WFDB record or a .npy array (memory-mapped) at a quality level, within a max error (0:
    lossless) or at the cheapest setting that meets a PRDN, with the channels --channels keeps: read in windows
    (vqcodec.ecg.stream), so memory does not grow with the record; the same file as a whole read gives. Channels
    the model does not take (where it codes) are coded without it, as aux signals, aux block by aux block."""
    from vqcodec.ecg.stream import Selected
    from vqcodec.io.array import NpySource
    from vqcodec.io.wfdb import WfdbSource

    whole: WfdbSource | NpySource = NpySource(record, fs) if record.suffix.lower() == io.NPY_SUFFIX \
        else WfdbSource(record, fs)
    source: WfdbSource | NpySource | Selected = whole
    original_bytes: int | None = sum(p.stat().st_size for p in io.record_paths(record))
    if channels is not None:  # the file bytes are the whole record's: no compression ratio against them
        source = Selected(whole, _channel_columns([ch.name for ch in whole.channels], channels, record))
        original_bytes = None
    codec = load()
    with _record_bar(str(record)) as progress:
        if max_prdn is None:
            data, report = codec.compress_source(source, quality, original_bytes, progress=progress,
                                                 max_error=max_error)
            level = ""
        else:  # each trial runs the bar again
            data, report, setting = codec.compress_source_to_prdn(source, max_prdn, original_bytes,
                                                                  progress=progress)
            level = f" [{setting}]"
    with warnings.catch_warnings():
        if not force:  # a record that fails its own checksum is compressed only when asked
            warnings.simplefilter("error", CorruptSourceWarning)
        try:
            source.check()
        except CorruptSourceWarning as w:
            fail(f"{w} (--force compresses it anyway)")
    assert isinstance(report, Report)
    data = _keep_record_files(data, report, kept, record)
    _emit(data, output, to_stdout, force)
    meta = EcgMeta.from_json(vqc.read_header(data)[0].meta)
    click.echo(f"{output if not to_stdout else record}: {_summary(report, meta.channels)}{level}{_routes(meta)}",
               err=True)


def _summary(report: Report, channels: list[ChannelInfo]) -> str:
    """The report's line, its max error in the record's units and in ADC units (what --max-error bounds)."""
    units = sorted({ch.units.strip() or "mV" for ch in channels})
    adc = max((c.max_err * ch.gain for c, ch in zip(report.channels, channels)), default=0.0)
    unit = f" {units[0]}" if len(units) == 1 else f" (channels in {', '.join(units)})"
    worst = report.worst_channel  # what --max-prdn bounds, with several leads
    lead = f", worst lead {worst.name} {worst.prdn:.2f} %" if worst is not None and len(report.channels) > 1 else ""
    return f"{report.summary()}{unit} = {adc:.3g} ADC unit{'' if adc == 1 else 's'}{lead}"


def _select_channels(signal: Signal, spec: str, record: Path) -> Signal:
    """The channels --channels names (names, or 0-based numbers), in that order."""
    return signal.select(_channel_columns([ch.name for ch in signal.channels], spec, record))


def _channel_columns(names: list[str], spec: str, record: Path) -> list[int]:
    """The columns of the channels --channels names (names, or 0-based numbers), in that order."""
    columns = []
    for item in (part.strip() for part in spec.split(",")):
        if item in names:
            columns.append(names.index(item))
        elif item.isdigit() and int(item) < len(names):
            columns.append(int(item))
        else:
            fail(f"{record}: no channel {item!r} (it has {', '.join(names)})")
    if len(set(columns)) != len(columns):
        fail(f"{record}: --channels names a channel twice ({spec})")
    return columns


def _emit(data: bytes, output: Path, to_stdout: bool, force: bool) -> None:
    """Write the .vqc bytes to stdout or, atomically, to the output file."""
    if to_stdout:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        make_folder(output)
        write_bytes(output, data, force)


def sample_span(data: bytes, vqc_file: Path, start: float | None, end: float | None) -> tuple[int | None, int | None]:
    """--start/--end in seconds as samples [first, last) of an ECG file; (None, None) for the whole file."""
    if start is None and end is None:
        return None, None
    found = read_info(data, name=str(vqc_file))
    if found.kind != "ecg":
        raise InputError(f"{vqc_file}: --start and --end are for ECG records, this file holds {found.kind}")
    first = 0 if start is None else min(found.n_samples, round(start * found.fs))
    last = found.n_samples if end is None else min(found.n_samples, round(end * found.fs))
    if last <= first:
        raise InputError(f"{vqc_file}: --end must come after --start (the record lasts {found.duration:.1f} s)")
    return first, last


def decompress_one(vqc_file: Path, output_arg: str | None, model: str | None, force: bool, salvage: bool,
                   start: float | None = None, end: float | None = None, anonymize: bool = False) -> None:
    """decompress, for one input."""
    if anonymize and (start is not None or end is not None):
        raise click.UsageError("--anonymize writes a whole EDF file; it goes with neither --start nor --end")
    if start is not None or end is not None:
        _decompress_range(vqc_file, output_arg, model, force, start, end)
        return
    data = read_file(vqc_file)
    try:
        parsed = vqc.loads(data, str(vqc_file), salvage=salvage)  # a damaged file says so before any model lookup
    except FormatError as e:
        if not salvage and salvageable(data):
            raise type(e)(f"{e} (decompress --salvage can recover the undamaged blocks)") from e
        raise
    output = record_output(parsed.meta.record, vqc_file)
    if output_arg is not None:
        output = Path(output_arg) / output if is_folder(output_arg) else Path(output_arg)
    if parsed.header.kind == "midi" and not io.is_midi(output):
        output = output.with_name(output.name + io.MIDI_SUFFIXES[0])
    ecg = parsed if isinstance(parsed, EcgFile) else None
    if ecg is not None and ecg.edf_header is not None:
        from vqcodec.io.edf import suffix_of

        output = edf_output(output, suffix_of(ecg.edf_header))
    if anonymize and not io.is_edf(output):
        raise click.UsageError(f"--anonymize blanks an EDF file's patient and recording fields; {output} is not one")
    h = parsed.header
    other = [a for a in ecg.meta.aux if (a.fs, a.n_samples) != (h.fs, h.n_samples)] if ecg is not None else []
    if other and not io.is_edf(output):  # before any decoding, as io.write would say after it
        rates = ", ".join(f"{a.channel.name} {a.fs:g} Hz" for a in other)
        raise InputError(f"{output}: {ecg.meta.record if ecg else ''} has signals at other rates than its {h.fs:g} Hz "
                         f"({rates}), which neither a WFDB record nor an array holds; decompress it to .edf")
    make_folder(output)
    if io.is_edf(output):
        from vqcodec.api import write_edf_file

        edf_files = write_edf_file(parsed, output, model, name=str(vqc_file), force=force, anonymize=anonymize)
        click.echo(f"{vqc_file}: wrote {', '.join(str(p) for p in edf_files)}", err=True)
        return
    annotations = ecg.annotations if ecg is not None else {}
    record = io.is_wfdb(output)
    if annotations and record and not force:  # before any decoding: none of the outputs may be there
        from vqcodec.container.atomic import check_output
        from vqcodec.io.annotations import annotation_paths

        for path in annotation_paths(output, annotations):
            check_output(path, force)
    header = ecg.wfdb_header if ecg is not None and not (ecg.lost_blocks or ecg.damage) else None
    written = _decode_windows(parsed, output, model, force, str(vqc_file), header if record else None)
    if written is None:
        signal = decode(parsed, model, str(vqc_file))
        if record and header is not None and isinstance(signal, Signal):  # lossless, its digest checked: exact
            written = io.write_wfdb(output, signal, force, header_text=header)
        else:
            written = io.write(output, signal, force)
    summary = f"{vqc_file}: wrote {', '.join(str(p) for p in written)}"
    if annotations and record:
        from vqcodec.io.annotations import write_annotations

        summary += f", {', '.join(str(p) for p in write_annotations(output, annotations, force))}"
    elif annotations:
        summary += f"; {annotations_left(annotations, 'a .npy array is not a WFDB record')}"
    lost, damage = getattr(parsed, "lost_blocks", {}), getattr(parsed, "damage", [])  # a MIDI file has no blocks
    lost_aux = getattr(parsed, "lost_aux_blocks", {})
    if lost or damage:
        aux = f" and {len(lost_aux)} aux block(s)" if lost_aux else ""
        summary += (f"; SALVAGED from a damaged file: {len(lost)} of {parsed.header.n_blocks} blocks{aux} "
                    f"lost and written as invalid samples, {len(damage)} other problem(s) skipped (see the "
                    "warnings)")
    click.echo(summary, err=True)


def _decode_windows(parsed: object, output: Path, model: str | None, force: bool, name: str,
                    header: bytes | None = None) -> list[Path] | None:
    """Decode an ECG file of a model layer alone, or with its residual layer in blocks (RESB), and its aux signals in
    blocks (AUXB) at the record's rate, into a WFDB record or a .npy array window by window (memory does not grow
    with the record), the same files as a whole decode writes (a WFDB record with the original `header` text a
    lossless file keeps, as write_wfdb writes it); None where the file or the output needs the whole decode (a
    whole-record residual layer, aux signals of format 1.10 (AUXS), salvage, a WFDB format written whole)."""
    from vqcodec.ecg.codec import codec_for, record_template
    from vqcodec.io.array import NpyWriter
    from vqcodec.io.wfdb import WfdbWriter, streamable_fmt

    npy = output.suffix.lower() == io.NPY_SUFFIX
    if not isinstance(parsed, EcgFile) or not (io.is_wfdb(output) or npy):
        return None
    codec = codec_for(parsed.header, model, name)
    template = record_template(parsed.header, parsed.meta, name)
    if template.aux or not codec.streams(parsed) or (not npy and streamable_fmt(template) is None):
        return None
    writer: NpyWriter | WfdbWriter = NpyWriter(output, template.n_samples, template.n_channels, force) if npy \
        else WfdbWriter(output, template, force, header_text=header)
    try:
        with _record_bar(name) as progress:
            for y in codec.decode_windows(parsed, name, progress=progress):
                writer.write(y)
    except BaseException:
        writer.abort()
        raise
    return writer.close()


def _decompress_range(vqc_file: Path, output_arg: str | None, model: str | None, force: bool,
                      start: float | None, end: float | None) -> None:
    """decompress --start/--end: only the samples of that time span (and the blocks they need)."""
    from vqcodec.api import decompress as decompress_file

    data = read_file(vqc_file)
    found = read_info(data, name=str(vqc_file))
    first, last = sample_span(data, vqc_file, start, end)
    assert first is not None and last is not None  # --start or --end was given
    signal = decompress_file(data, model, name=str(vqc_file), start=first, stop=last)
    assert isinstance(signal, Signal)
    output = record_output(found.meta.record if found.meta else None, vqc_file)
    if output_arg is not None:
        output = Path(output_arg) / output if is_folder(output_arg) else Path(output_arg)
    make_folder(output)
    written = io.write(output, signal, force)
    left = (f"; {annotations_left(found.annotations, 'their sample numbers count from the record start')}"
            if found.annotations else "")
    click.echo(f"{vqc_file}: wrote samples {first}..{last - 1} ({first / found.fs:.1f} s to {last / found.fs:.1f} s) "
               f"to {', '.join(str(p) for p in written)}{left}", err=True)


def annotations_left(annotations: dict, why: str) -> str:
    """What a decompress that writes no annotation file says of those the file keeps."""
    return (f"annotation files {', '.join(sorted(annotations))} not written ({why}; a whole decode to a WFDB record "
            "writes them, and vqcodec.annotations() reads them)")


def salvageable(data: bytes) -> bool:
    """Whether a file that failed to parse would parse with --salvage (its damage is confined to the blocks)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            vqc.loads(data, salvage=True)
    except VqcError:
        return False
    return True

"""WFDB records (.hea + .dat) to and from Signal, losslessly in digital values.

Reading goes through `wfdb.rdrecord` in digital mode so the conversion to physical units (and the NaN mask of
invalid samples) is ours; writing goes through `wfdb.Record.wrsamp` into a temp dir, then `os.replace`.
wfdb reads headers as ASCII and drops other bytes, so non-ASCII comment characters are lost.
"""

from __future__ import annotations

import datetime
import importlib.util
import math
import os
import shutil
import tempfile
import warnings
from pathlib import Path

import numpy as np
import wfdb
from wfdb.io._signal import BYTES_PER_SAMPLE, COMPRESSED_FMTS, INVALID_SAMPLE_VALUE, SAMPLE_VALUE_RANGE

from vqcodec.ecg.signal import ChannelInfo, Signal
from vqcodec.errors import CorruptSourceWarning, InputError, OutputExistsError, VqcError

HEADER_SUFFIX = ".hea"
DAT_SUFFIX = ".dat"
RECORD_SUFFIXES = (HEADER_SUFFIX, DAT_SUFFIX)
CHECKSUM_MODULUS = 65536
UNCALIBRATED_GAIN = 200.0  # WFDB's meaning of adc_gain 0; wfdb cannot write a gain of 0 back
DEFAULT_UNITS = "mV"
WFDB_DEFAULT_FS = 250.0
NULL_FILE = "~"
FALLBACK_FMT = "16"
WIDE_FALLBACK_FMT = "32"
# Formats wfdb's writer implements; the FLAC-based ones only with soundfile installed.
WRITABLE_FMTS = ("80", "212", "16", "24", "32") + (
    tuple(COMPRESSED_FMTS) if importlib.util.find_spec("soundfile") else ()
)
FALLBACK_COMMENT = "vqcodec: written as fmt {new} (original fmt {old})"
RENAMED_COMMENT = "vqcodec: signal {index} renamed from {old!r} to {new!r} (wfdb needs unique names)"


def record_base(path: str | Path) -> Path:
    """The record path without a .hea/.dat suffix (`out/100.hea` → `out/100`)."""
    path = Path(path)
    return path.with_suffix("") if path.suffix in RECORD_SUFFIXES else path


def header_path(base: Path) -> Path:
    """The .hea file of a record path without suffix."""
    return base.with_name(base.name + HEADER_SUFFIX)


def _one_line(e: BaseException) -> str:
    """The first line of an exception's message (wfdb's can span several)."""
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def _header_fs_field(hea: Path) -> str | None:
    """The record line's sampling-rate field as written (`360`, `360/3600(0)`), None when there is none (wfdb
    then silently assumes 250 Hz)."""
    with open(hea, encoding="ascii", errors="ignore") as f:
        for line in f:
            fields = line.split()
            if fields and not fields[0].startswith("#"):
                return fields[2] if len(fields) >= 3 else None
    return None


def _read_header(path: Path, base: Path) -> wfdb.Record:
    """Parse the header and refuse what vqcodec cannot store losslessly."""
    hea = header_path(base)
    if not hea.is_file():
        raise InputError(f"{path}: no such record ({hea} not found)")
    try:
        header = wfdb.rdheader(str(base))
    except OSError as e:
        raise InputError(f"{path}: cannot read {hea.name} ({e.strerror or _one_line(e)})") from e
    except Exception as e:
        raise InputError(f"{path}: cannot parse header {hea.name}: {_one_line(e)}") from e
    if isinstance(header, wfdb.MultiRecord):
        raise InputError(f"{path}: multi-segment records are not supported (convert to one segment first)")
    if not header.n_sig:
        raise InputError(f"{path}: record has no signals")
    if header.sig_len == 0:
        raise InputError(f"{path}: empty record (0 samples)")
    if any(n > 1 for n in header.samps_per_frame or []):
        raise InputError(
            f"{path}: multi-rate records (samples per frame {header.samps_per_frame}) are not supported"
        )
    skewed = [(c, s) for c, s in enumerate(header.skew or []) if s]
    if skewed:
        text = ", ".join(f"signal {c} skew {s}" for c, s in skewed)
        raise InputError(f"{path}: skewed records are not supported ({text}): wfdb reads them by dropping the "
                         "first samples of a skewed signal and marking its last ones invalid")
    return header


def _signal_files(header: wfdb.Record, directory: Path) -> list[Path]:
    """The distinct signal files a header refers to, in order."""
    names = dict.fromkeys(n for n in header.file_name if n and n != NULL_FILE)
    return [directory / n for n in names]


def _check_dat_files(path: Path, header: wfdb.Record, directory: Path) -> None:
    """Missing or short .dat files → InputError naming the file (wfdb would fail with an opaque error)."""
    for dat in _signal_files(header, directory):
        if not dat.is_file():
            raise InputError(f"{path}: signal file {dat} not found")
        channels = [i for i, n in enumerate(header.file_name) if n == dat.name]
        fmt = header.fmt[channels[0]]
        if header.sig_len is None or fmt in COMPRESSED_FMTS or fmt not in BYTES_PER_SAMPLE:
            continue
        offset = (header.byte_offset or [None] * header.n_sig)[channels[0]] or 0
        needed = offset + int(header.sig_len * len(channels) * BYTES_PER_SAMPLE[fmt])
        size = dat.stat().st_size
        if size < needed:
            raise InputError(f"{path}: signal file {dat.name} is shorter than the header says "
                             f"({size} < {needed} bytes)")


def wfdb_files(path: str | Path) -> list[Path]:
    """The .hea and .dat files that make up a record, e.g. to count its original size in bytes."""
    path = Path(path)
    base = record_base(path)
    header = _read_header(path, base)
    return [header_path(base)] + _signal_files(header, base.parent)


def read_wfdb(path: str | Path, fs: float | None = None) -> Signal:
    """Read a WFDB record given as `NNN`, `NNN.hea` or `NNN.dat`; invalid samples become NaN.

    fs is used only when the header has no sampling rate. adc_gain 0 (uncalibrated) is stored as 200,
    which is how WFDB interprets it and the only value wfdb can write back.
    """
    path = Path(path)
    base = record_base(path)
    header = _read_header(path, base)
    _check_dat_files(path, header, base.parent)
    try:
        record = wfdb.rdrecord(str(base), physical=False, return_res=64, smooth_frames=True)
        fs_field = _header_fs_field(header_path(base))
    except OSError as e:
        what = Path(e.filename).name if e.filename else "record"
        raise InputError(f"{path}: cannot read {what} ({e.strerror or _one_line(e)})") from e
    except Exception as e:
        raise InputError(f"{path}: cannot read record: {_one_line(e)}") from e
    digital = np.asarray(record.d_signal, dtype=np.int64)
    if digital.ndim != 2 or digital.shape[0] == 0:
        raise InputError(f"{path}: empty record (0 samples)")
    if record.sig_len is not None and digital.shape[0] != record.sig_len:
        raise InputError(f"{path}: read {digital.shape[0]} samples but the header says {record.sig_len}")
    record_fs = _record_fs(path, record.fs, fs_field, fs)

    channels = [_channel_info(record, c) for c in range(record.n_sig)]
    gains = np.array([ch.gain for ch in channels])
    baselines = np.array([ch.baseline for ch in channels], dtype=np.float64)
    samples = (digital - baselines) / gains
    for c, ch in enumerate(channels):
        invalid = INVALID_SAMPLE_VALUE.get(ch.fmt)
        if invalid is not None:
            samples[digital[:, c] == invalid, c] = np.nan
    _check_checksums(path, record, digital)
    return Signal(
        samples=samples,
        fs=record_fs,
        channels=channels,
        record_name=base.name,
        comments=list(record.comments or []),
        base_time=record.base_time.isoformat() if record.base_time is not None else None,
        base_date=record.base_date.isoformat() if record.base_date is not None else None,
    )


def _record_fs(path: Path, header_fs: float, fs_field: str | None, fs: float | None) -> float:
    """The sampling rate: the header's, else the caller's, else wfdb's 250 Hz default with a warning.

    wfdb reads a field it cannot parse (`-360`, `1e9`) as 250 or 1 Hz without a word, so the field must be a
    positive number that equals what wfdb read."""
    if fs_field is not None:
        try:
            written = float(fs_field.split("/")[0].split("(")[0])
        except ValueError:
            written = math.nan
        if not (math.isfinite(written) and written > 0 and math.isclose(written, header_fs)):
            raise InputError(f"{path}: the header's sampling rate {fs_field!r} is not a positive number wfdb reads")
        if fs is not None and fs != header_fs:
            raise InputError(f"{path}: header says {header_fs:g} Hz but {fs:g} Hz was given")
        return float(header_fs)
    if fs is not None:
        return float(fs)
    warnings.warn(f"{path}: header has no sampling rate; assuming WFDB's default {WFDB_DEFAULT_FS:g} Hz", stacklevel=3)
    return WFDB_DEFAULT_FS


def _channel_info(record: wfdb.Record, c: int) -> ChannelInfo:
    return ChannelInfo(
        name=record.sig_name[c] if record.sig_name and record.sig_name[c] else f"ch{c}",
        units=record.units[c] if record.units and record.units[c] else DEFAULT_UNITS,
        gain=float(record.adc_gain[c]) or UNCALIBRATED_GAIN,
        baseline=int(record.baseline[c]),
        adc_res=int(record.adc_res[c] or 0),
        adc_zero=int(record.adc_zero[c] or 0),
        fmt=str(record.fmt[c]),
    )


def _check_checksums(path: Path, record: wfdb.Record, digital: np.ndarray) -> None:
    """Warn when a header checksum disagrees with the samples read (the source is corrupt)."""
    for c, expected in enumerate(record.checksum or []):
        if expected is not None and int(digital[:, c].sum()) % CHECKSUM_MODULUS != expected % CHECKSUM_MODULUS:
            warnings.warn(f"{path}: checksum mismatch in signal {c} ({record.sig_name[c]}); the record may be corrupt",
                          CorruptSourceWarning, stacklevel=3)


def _output_fmt(signal: Signal, digital: np.ndarray) -> tuple[str, list[str]]:
    """One fmt for the single .dat: the original when wfdb can write it, else 16 (32 if the values need it)."""
    fmts = list(dict.fromkeys(ch.fmt for ch in signal.channels))
    if len(fmts) == 1 and fmts[0] in WRITABLE_FMTS:
        return fmts[0], []
    lo, hi = SAMPLE_VALUE_RANGE[FALLBACK_FMT]
    new = FALLBACK_FMT if digital.size == 0 or (digital.min() > lo and digital.max() <= hi) else WIDE_FALLBACK_FMT
    return new, [FALLBACK_COMMENT.format(new=new, old=old) for old in fmts if old != new]


def _unique_names(signal: Signal) -> tuple[list[str], list[str]]:
    """Signal names made unique (wfdb refuses duplicates), with a comment for each rename."""
    names: list[str] = []
    comments: list[str] = []
    for i, ch in enumerate(signal.channels):
        name, k = ch.name, 1
        while name in names:
            k += 1
            name = f"{ch.name}_{k}"
        if name != ch.name:
            comments.append(RENAMED_COMMENT.format(index=i, old=ch.name, new=name))
        names.append(name)
    return names, comments


def _parse_iso(
    value: str | None, kind: type[datetime.time] | type[datetime.date], what: str
) -> datetime.time | datetime.date | None:
    """Signal keeps base time/date as ISO strings; wfdb wants datetime objects."""
    if value is None:
        return None
    try:
        return kind.fromisoformat(value)
    except ValueError as e:
        raise InputError(f"{what}: bad base {kind.__name__} {value!r}") from e


def _to_record(name: str, signal: Signal, what: str) -> tuple[wfdb.Record, int]:
    """Build the wfdb Record to write, and count the valid samples clipped to the fmt's range."""
    if signal.n_channels == 0:
        raise InputError(f"{what}: record has no signals")
    if signal.n_samples == 0:
        raise InputError(f"{what}: empty record (0 samples); WFDB cannot store it")
    invalid_mask = np.isnan(signal.samples)
    digital = signal.digital()
    fmt, comments = _output_fmt(signal, digital[~invalid_mask])
    names, rename_comments = _unique_names(signal)
    lo, hi = SAMPLE_VALUE_RANGE[fmt]
    clipped = int(np.count_nonzero(((digital <= lo) | (digital > hi)) & ~invalid_mask))
    digital = np.clip(digital, lo + 1, hi)
    digital[invalid_mask] = INVALID_SAMPLE_VALUE[fmt]
    n = signal.n_channels
    record = wfdb.Record(
        record_name=name,
        n_sig=n,
        fs=signal.fs,
        sig_len=signal.n_samples,
        file_name=[name + DAT_SUFFIX] * n,
        fmt=[fmt] * n,
        adc_gain=[ch.gain for ch in signal.channels],
        baseline=[ch.baseline for ch in signal.channels],
        units=[ch.units for ch in signal.channels],
        sig_name=names,
        adc_res=[ch.adc_res for ch in signal.channels],
        adc_zero=[ch.adc_zero for ch in signal.channels],
        d_signal=digital,
        comments=list(signal.comments) + comments + rename_comments,
        base_time=_parse_iso(signal.base_time, datetime.time, what),
        base_date=_parse_iso(signal.base_date, datetime.date, what),
    )
    record.set_d_features()
    record.set_defaults()
    return record, clipped


def write_wfdb(path: str | Path, signal: Signal, force: bool = False) -> list[Path]:
    """Write `path` (`out/100`, `out/100.hea` or `.dat`) as a .hea + .dat pair, atomically.

    Both files are written into a temp dir beside the destination and moved into place; on any failure
    (Ctrl-C included) nothing is left behind and existing files are untouched unless already replaced.
    Valid values outside the fmt's range are clipped to [min+1, max] with a warning.
    """
    base = record_base(path)
    name = base.name
    if not name or "." in name:
        raise InputError(f"{path}: WFDB record name {name!r} must be non-empty and contain no '.'")
    directory = base.parent
    if not directory.is_dir():
        raise InputError(f"{path}: output directory {directory} does not exist")
    targets = [header_path(base), base.with_name(name + DAT_SUFFIX)]
    existing = [t for t in targets if t.exists()]
    if existing and not force:
        raise OutputExistsError(f"{existing[0]}: already exists (use --force to overwrite)")
    record, clipped = _to_record(name, signal, str(path))

    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".tmp", dir=directory))
    except OSError as e:  # a read-only folder refuses the temporary folder
        raise VqcError(f"{path}: cannot write record ({e.strerror or e})") from e
    moved: list[Path] = []
    try:
        record.wrsamp(write_dir=str(tmp))
        for target in reversed(targets):  # .dat first, so a header never points at a missing file
            os.replace(tmp / target.name, target)
            moved.append(target)
    except BaseException as e:
        for target in moved:
            if target not in existing:
                target.unlink(missing_ok=True)
        if isinstance(e, OSError) and e.strerror:
            raise VqcError(f"{path}: cannot write record ({e.strerror})") from e
        if isinstance(e, Exception):
            raise VqcError(f"{path}: cannot write record: {_one_line(e)}") from e
        raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if clipped:
        warnings.warn(f"{path}: {clipped} samples clipped to the fmt {record.fmt[0]} range", stacklevel=2)
    return targets

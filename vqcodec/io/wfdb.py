"""WFDB records (.hea + .dat) to and from Signal, losslessly in digital values.

Reading goes through `wfdb.rdrecord` in digital mode so the conversion to physical units (and the NaN mask of
invalid samples) is ours; writing goes through `wfdb.Record.wrsamp` into a temp dir, then `os.replace`.
wfdb reads headers as ASCII and drops other bytes, so non-ASCII comment characters are lost.
"""

from __future__ import annotations

import datetime
import hashlib
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
    record = _rdrecord(path, base, "record")
    fs_field = _header_fs_field(header_path(base))
    digital = np.asarray(record.d_signal, dtype=np.int64)
    if digital.ndim != 2 or digital.shape[0] == 0:
        raise InputError(f"{path}: empty record (0 samples)")
    if record.sig_len is not None and digital.shape[0] != record.sig_len:
        raise InputError(f"{path}: read {digital.shape[0]} samples but the header says {record.sig_len}")
    record_fs = _record_fs(path, record.fs, fs_field, fs)

    channels = [_channel_info(record, c) for c in range(record.n_sig)]
    _check_checksums(path, record, digital)
    return Signal(
        samples=_physical(digital, channels),
        fs=record_fs,
        channels=channels,
        record_name=base.name,
        comments=list(record.comments or []),
        base_time=record.base_time.isoformat() if record.base_time is not None else None,
        base_date=record.base_date.isoformat() if record.base_date is not None else None,
    )


def _rdrecord(path: Path, base: Path, what: str, **span: int) -> wfdb.Record:
    """wfdb.rdrecord of the record's digital samples (of `span`: sampfrom, sampto), its errors an InputError naming
    `path` and `what` was read."""
    try:
        return wfdb.rdrecord(str(base), physical=False, return_res=64, smooth_frames=True, **span)
    except OSError as e:
        name = Path(e.filename).name if e.filename else "record"
        raise InputError(f"{path}: cannot read {name} ({e.strerror or _one_line(e)})") from e
    except Exception as e:
        raise InputError(f"{path}: cannot read {what}: {_one_line(e)}") from e


def _physical(digital: np.ndarray, channels: list[ChannelInfo]) -> np.ndarray:
    """ADC samples [T, C] -> physical values, NaN where a channel's format marks a sample invalid."""
    gains = np.array([ch.gain for ch in channels])
    baselines = np.array([ch.baseline for ch in channels], dtype=np.float64)
    samples = (digital - baselines) / gains
    for c, ch in enumerate(channels):
        invalid = INVALID_SAMPLE_VALUE.get(ch.fmt)
        if invalid is not None:
            samples[digital[:, c] == invalid, c] = np.nan
    return samples


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
    lo, hi = SAMPLE_VALUE_RANGE[fmt]
    clipped = int(np.count_nonzero(((digital <= lo) | (digital > hi)) & ~invalid_mask))
    digital = np.clip(digital, lo + 1, hi)
    digital[invalid_mask] = INVALID_SAMPLE_VALUE[fmt]
    record = _header_record(name, signal, fmt, what, comments)
    record.d_signal = digital
    record.set_d_features()
    record.set_defaults()
    return record, clipped


def _header_record(name: str, signal: Signal, fmt: str, what: str, comments: list[str] | None = None) -> wfdb.Record:
    """The wfdb Record of a record's header fields in `fmt` (no samples), with `comments` added to its own."""
    names, rename_comments = _unique_names(signal)
    n = signal.n_channels
    return wfdb.Record(
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
        comments=list(signal.comments) + (comments or []) + rename_comments,
        base_time=_parse_iso(signal.base_time, datetime.time, what),
        base_date=_parse_iso(signal.base_date, datetime.date, what),
    )


def write_wfdb(path: str | Path, signal: Signal, force: bool = False, header_text: bytes | None = None) -> list[Path]:
    """Write `path` (`out/100`, `out/100.hea` or `.dat`) as a .hea + .dat pair, atomically.

    Both files are written into a temp dir beside the destination and moved into place; on any failure
    (Ctrl-C included) nothing is left behind and existing files are untouched unless already replaced.
    Valid values outside the fmt's range are clipped to [min+1, max] with a warning.

    header_text: the record's original .hea bytes (a lossless file keeps them), written instead of the header wfdb
    makes when they describe the .dat written, read back to the very samples (with the record name and the signal
    file `<name>.dat` renamed on their lines when the record is written under another name, the rest as it was);
    else the header wfdb makes, with a warning.
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
        problem = None if header_text is None else _restore_header(tmp, name, record, header_text, signal.record_name)
        if problem:
            warnings.warn(f"{path}: the original header is not written ({problem}); wrote vqcodec's", stacklevel=2)
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


def renamed_header(text: bytes, old: str, new: str) -> bytes:
    """A WFDB header's text for the record under another name: the record line's name and each signal line's file
    `<old>.dat` become `new`'s, every other byte (comments, line ends, spacing) stays as it was."""
    if old == new:
        return text
    out, signals = [], None
    for line in text.splitlines(keepends=True):
        body = line.lstrip(b" \t")
        fields = body.split()
        if not fields or fields[0].startswith(b"#"):
            out.append(line)
            continue
        lead = line[: len(line) - len(body)]
        if signals is None:  # the record line: name[/segments] n_sig ...
            signals = int(fields[1]) if len(fields) > 1 and fields[1].isdigit() else 0
            if fields[0] == old.encode() or fields[0].startswith(old.encode() + b"/"):
                line = lead + new.encode() + body[len(old.encode()):]
        elif signals > 0:  # a signal line: file name first
            signals -= 1
            if fields[0] == (old + DAT_SUFFIX).encode():
                line = lead + (new + DAT_SUFFIX).encode() + body[len(fields[0]):]
        out.append(line)
    return b"".join(out)


def _restore_header(tmp: Path, name: str, record: wfdb.Record, text: bytes, original_name: str) -> str | None:
    """Put the original header text (renamed for `name`) in place of wfdb's in the temporary folder, when it reads the
    .dat written there back to exactly the samples written; else keep wfdb's and say why (_restore_header_windows,
    given the samples' digest)."""
    digital = np.ascontiguousarray(np.asarray(record.d_signal, dtype=np.int64), "<i8")
    return _restore_header_windows(tmp, name, text, original_name, hashlib.sha256(digital.tobytes()).digest(),
                                   len(digital))


RESTORE_WINDOW = 1 << 18
"""Samples read back at a time when a windowed writer checks the original header against the .dat it wrote."""


def _restore_header_windows(tmp: Path, name: str, text: bytes, original_name: str, written: bytes,
                            n_samples: int) -> str | None:
    """_restore_header for a record written in windows: the original header (renamed for `name`) replaces wfdb's
    when the .dat read back under it, window by window, gives the very samples written (their SHA-256 `written`);
    else wfdb's is kept and the reason returned."""
    hea = tmp / (name + HEADER_SUFFIX)
    ours = hea.read_bytes()
    hea.write_bytes(renamed_header(text, original_name, name))
    try:
        head = wfdb.rdheader(str(tmp / name))
        problem = None
        if set(head.file_name or []) != {name + DAT_SUFFIX} or head.sig_len != n_samples:
            problem = "it does not describe the .dat written"
        else:
            back = hashlib.sha256()
            for a in range(0, n_samples, RESTORE_WINDOW):
                part = wfdb.rdrecord(str(tmp / name), sampfrom=a, sampto=min(n_samples, a + RESTORE_WINDOW),
                                     physical=False, return_res=64, smooth_frames=True)
                back.update(np.ascontiguousarray(np.asarray(part.d_signal, dtype=np.int64), "<i8").tobytes())
            if back.digest() != written:
                problem = "it does not read the .dat written back to the decoded samples"
    except Exception as e:  # whatever wfdb's parse of an unusual header meets
        problem = f"wfdb cannot read the record with it: {_one_line(e)}"
    if problem:
        hea.write_bytes(ours)
    return problem


STREAM_FMTS = ("16", "212", "80")
"""Formats the windowed writer packs itself, byte for byte as wfdb's writer does."""


class WfdbSource:
    """A WFDB record read in windows (`wfdb.rdrecord(sampfrom=, sampto=)`), for `vqcodec.ecg.stream`: the values
    `read_wfdb` gives, held a window at a time. The header checksums are checked over reads made in order from the
    first sample (as `measure` reads), by `check()`."""

    def __init__(self, path: str | Path, fs: float | None = None) -> None:
        self.path = Path(path)
        self.base = record_base(self.path)
        header = _read_header(self.path, self.base)
        _check_dat_files(self.path, header, self.base.parent)
        for dat in _signal_files(header, self.base.parent):  # refused now, not after the model has loaded
            try:
                with open(dat, "rb"):
                    pass
            except OSError as e:
                raise InputError(f"{self.path}: cannot read {dat.name} ({e.strerror or _one_line(e)})") from e
        self._header = header
        self.fs = _record_fs(self.path, header.fs, _header_fs_field(header_path(self.base)), fs)
        self.channels = [_channel_info(header, c) for c in range(header.n_sig)]
        self.n_samples = int(header.sig_len or 0)
        if self.n_samples <= 0:
            raise InputError(f"{self.path}: the header gives no record length; read it whole")
        self.record_name = self.base.name
        self.comments = list(header.comments or [])
        self.base_time = header.base_time.isoformat() if header.base_time is not None else None
        self.base_date = header.base_date.isoformat() if header.base_date is not None else None
        self._summed_to, self._sums = 0, np.zeros(header.n_sig, dtype=np.int64)

    def read(self, start: int, stop: int) -> np.ndarray:
        if stop <= start:
            return np.zeros((0, len(self.channels)))
        record = _rdrecord(self.path, self.base, f"samples {start}..{stop - 1}", sampfrom=start, sampto=stop)
        digital = np.asarray(record.d_signal, dtype=np.int64)
        if digital.shape != (stop - start, len(self.channels)):
            raise InputError(f"{self.path}: read {digital.shape[0]} samples at {start} where {stop - start} were "
                             "asked")
        if start == self._summed_to:
            self._sums += digital.sum(axis=0)
            self._summed_to = stop
        return _physical(digital, self.channels)

    def check(self) -> None:
        """CorruptSourceWarning when the whole record has been read in order and a checksum disagrees."""
        if self._summed_to == self.n_samples:
            for c, expected in enumerate(self._header.checksum or []):
                if expected is not None and int(self._sums[c]) % CHECKSUM_MODULUS != expected % CHECKSUM_MODULUS:
                    warnings.warn(f"{self.path}: checksum mismatch in signal {c} ({self._header.sig_name[c]}); the "
                                  "record may be corrupt", CorruptSourceWarning, stacklevel=2)


def _pack(digital: np.ndarray, fmt: str) -> bytes:
    """Frame-interleaved digital samples [k, C] as fmt's bytes (212: pairs of 12-bit values in 3 bytes; an odd
    count is padded with a zero, as wfdb does at the file's end)."""
    flat = digital.reshape(-1)
    if fmt == "16":
        return flat.astype("<i2").tobytes()
    if fmt == "80":
        return (flat + 128).astype(np.uint8).tobytes()
    v = flat.astype(np.int64) & 0xFFF
    if len(v) % 2:
        v = np.append(v, 0)
    out = np.empty((len(v) // 2, 3), dtype=np.uint8)
    out[:, 0] = v[0::2] & 0xFF
    out[:, 1] = ((v[0::2] >> 8) & 0x0F) | (((v[1::2] >> 8) & 0x0F) << 4)
    out[:, 2] = v[1::2] & 0xFF
    return out.tobytes()


class WfdbWriter:
    """A WFDB record written window by window: the .dat grows in a temporary folder beside the destination, the
    header (with the checksums and first values of the whole record) is written by `close()`, then both are moved
    into place, the .dat first; `abort()` (or an error in a `with` block) leaves nothing behind. The files equal
    `write_wfdb`'s for the same samples, for the formats in STREAM_FMTS."""

    def __init__(self, path: str | Path, template: Signal, force: bool = False,
                 header_text: bytes | None = None) -> None:
        base = record_base(path)
        self.path, self.name = Path(path), base.name
        if not self.name or "." in self.name:
            raise InputError(f"{path}: WFDB record name {self.name!r} must be non-empty and contain no '.'")
        directory = base.parent
        if not directory.is_dir():
            raise InputError(f"{path}: output directory {directory} does not exist")
        self.targets = [header_path(base), base.with_name(self.name + DAT_SUFFIX)]
        existing = [t for t in self.targets if t.exists()]
        if existing and not force:
            raise OutputExistsError(f"{existing[0]}: already exists (use --force to overwrite)")
        self.template = template
        fmt = streamable_fmt(template)
        if fmt is None:
            raise InputError(f"{path}: fmt {template.channels[0].fmt} is written whole, not in windows")
        self.fmt: str = fmt
        try:
            self._tmp = Path(tempfile.mkdtemp(prefix=f".{self.name}.", suffix=".tmp", dir=directory))
        except OSError as e:
            raise VqcError(f"{path}: cannot write record ({e.strerror or e})") from e
        self._dat = open(self._tmp / self.targets[1].name, "wb")  # noqa: SIM115 (closed in close/abort)
        self._pending = np.zeros((0, template.n_channels), dtype=np.int64)  # 212: an odd sample waits for its pair
        self._sums = np.zeros(template.n_channels, dtype=np.int64)
        self._first: np.ndarray | None = None
        self.n_written, self.clipped = 0, 0
        self._header_text = header_text  # the record's original .hea, written by close() as write_wfdb writes it
        self._written = hashlib.sha256()  # of the digital samples written, to read them back under that header

    def write(self, samples: np.ndarray) -> None:
        """Physical values [k, C] (NaN invalid), the next k samples of the record."""
        ch = self.template.channels
        gains = np.array([c.gain for c in ch])
        baselines = np.array([c.baseline for c in ch], dtype=np.float64)
        invalid = np.isnan(samples)
        digital = np.rint(np.where(invalid, 0.0, samples) * gains + baselines).astype(np.int64)
        lo, hi = SAMPLE_VALUE_RANGE[self.fmt]
        self.clipped += int(np.count_nonzero(((digital <= lo) | (digital > hi)) & ~invalid))
        digital = np.clip(digital, lo + 1, hi)
        digital[invalid] = INVALID_SAMPLE_VALUE[self.fmt]
        if self._first is None and len(digital):
            self._first = digital[0].copy()
        self._sums += digital.sum(axis=0)
        self._written.update(np.ascontiguousarray(digital, "<i8").tobytes())
        self.n_written += len(digital)
        flat = np.concatenate([self._pending.reshape(-1), digital.reshape(-1)])
        keep = len(flat) % 2 if self.fmt == "212" else 0
        try:
            self._dat.write(_pack(flat[: len(flat) - keep], self.fmt))
        except OSError as e:  # a full disk: the caller aborts, which removes the temporary folder
            raise VqcError(f"{self.path}: cannot write record ({e.strerror or e})") from e
        self._pending = flat[len(flat) - keep :]

    def close(self) -> list[Path]:
        """Finish the .dat, write the header, move both into place; returns the files."""
        try:
            if len(self._pending):
                self._dat.write(_pack(self._pending, self.fmt))
            self._dat.flush()
            os.fsync(self._dat.fileno())
            self._dat.close()
            t = self.template
            if self.n_written != t.n_samples:
                raise VqcError(f"{self.path}: {self.n_written} samples written of {t.n_samples}")
            empty = Signal(np.zeros((0, t.n_channels)), t.fs, t.channels, t.record_name, list(t.comments),
                           t.base_time, t.base_date)
            record = _header_record(self.name, empty, self.fmt, str(self.path))
            record.sig_len = t.n_samples
            record.set_defaults()
            record.init_value = [int(v) for v in (self._first if self._first is not None else self._sums * 0)]
            record.checksum = [int(v) % CHECKSUM_MODULUS for v in self._sums]  # as wfdb's writer gives them
            record.wrheader(write_dir=str(self._tmp))
            if self._header_text is not None:
                problem = _restore_header_windows(self._tmp, self.name, self._header_text, t.record_name,
                                                  self._written.digest(), t.n_samples)
                if problem:
                    warnings.warn(f"{self.path}: the original header is not written ({problem}); wrote vqcodec's",
                                  stacklevel=2)
            for target in reversed(self.targets):  # .dat first, so a header never points at a missing file
                os.replace(self._tmp / target.name, target)
        except BaseException as e:
            self.abort()
            if isinstance(e, OSError) and e.strerror:
                raise VqcError(f"{self.path}: cannot write record ({e.strerror})") from e
            raise
        shutil.rmtree(self._tmp, ignore_errors=True)
        if self.clipped:
            warnings.warn(f"{self.path}: {self.clipped} samples clipped to the fmt {self.fmt} range", stacklevel=2)
        return self.targets

    def abort(self) -> None:
        """Remove the temporary folder and what it holds."""
        self._dat.close()
        shutil.rmtree(self._tmp, ignore_errors=True)


def streamable_fmt(signal: Signal) -> str | None:
    """The fmt write_wfdb gives this record when WfdbWriter can write it in windows (one format, in STREAM_FMTS),
    else None."""
    fmts = {ch.fmt for ch in signal.channels}
    fmt = fmts.pop() if len(fmts) == 1 else None
    return fmt if fmt in STREAM_FMTS else None


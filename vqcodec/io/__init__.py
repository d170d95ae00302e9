"""Record I/O: pick the reader or writer by suffix (WFDB records, EDF and BDF files, .npy arrays, MIDI
performances)."""

from __future__ import annotations

from pathlib import Path

from vqcodec.ecg.signal import Signal
from vqcodec.errors import InputError
from vqcodec.io.array import read_array, write_array
from vqcodec.io.edf import EDF_SUFFIXES, is_edf, read_edf
from vqcodec.io.midi import read_midi, write_midi
from vqcodec.io.wfdb import RECORD_SUFFIXES, header_path, read_wfdb, record_base, wfdb_files, write_wfdb
from vqcodec.midi.performance import Performance

__all__ = ["read", "write", "record_paths", "read_array", "write_array", "read_wfdb", "write_wfdb", "read_midi",
           "write_midi", "is_midi", "is_edf"]

NPY_SUFFIX = ".npy"
MIDI_SUFFIXES = (".mid", ".midi")
WFDB_SUFFIXES = ("",) + RECORD_SUFFIXES


def is_midi(path: str | Path) -> bool:
    """Whether the path names a MIDI file (.mid, .midi), by suffix."""
    return Path(path).suffix.lower() in MIDI_SUFFIXES


def is_wfdb(path: str | Path) -> bool:
    """Whether the path names a WFDB record (`NNN`, `NNN.hea`, `NNN.dat`), by suffix."""
    try:
        return _kind(Path(path)) == "wfdb"
    except InputError:
        return False


def _kind(path: Path) -> str:
    """'npy', 'midi', 'edf' or 'wfdb' by suffix; anything else is an InputError."""
    suffix = path.suffix.lower()
    if suffix == NPY_SUFFIX:
        return "npy"
    if suffix in EDF_SUFFIXES:
        return "edf"
    if suffix in MIDI_SUFFIXES:
        return "midi"
    if suffix in WFDB_SUFFIXES:
        return "wfdb"
    raise InputError(f"{path}: unsupported file type {suffix!r} (expected a WFDB record, .edf, .bdf, .npy or .mid)")


def _check_input(path: Path) -> None:
    if path.is_dir():
        raise InputError(f"{path}: is a directory")
    if not path.exists() and not header_path(record_base(path)).exists():
        raise InputError(f"{path}: no such record")


def read(path: str | Path, fs: float | None = None) -> Signal | Performance:
    """Read a WFDB record (`NNN`, `NNN.hea`, `NNN.dat`), an EDF or BDF file (its signals at other rates than its ECG's
    as the Signal's aux signals), a .npy array (which needs fs) or a MIDI file."""
    path = Path(path)
    if _kind(path) == "midi":
        return read_midi(path)
    _check_input(path)
    if _kind(path) == "edf":
        if fs is not None:
            raise InputError(f"{path}: an EDF file states each signal's rate; --fs is for .npy input")
        return read_edf(path)[0]
    return read_array(path, fs) if _kind(path) == "npy" else read_wfdb(path, fs)


def write(path: str | Path, data: Signal | Performance, force: bool = False) -> list[Path]:
    """Write a Performance as MIDI, a Signal as `.npy` (by suffix) or a WFDB record; returns the files written. An
    EDF file is written from a .vqc file that keeps its header (`vqcodec.decompress_edf`); a Signal with aux signals
    at other rates than its own fits neither a WFDB record nor an array (InputError)."""
    path = Path(path)
    if isinstance(data, Performance):
        return write_midi(path, data, force)
    if is_edf(path):
        raise InputError(f"{path}: an EDF or BDF file is written from a .vqc file that keeps its EDF header "
                         "(vqcodec decompress FILE.vqc -o OUT.edf, or vqcodec.decompress_edf)")
    if data.aux:
        rates = ", ".join(f"{a.channel.name} {a.fs:g} Hz" for a in data.aux)
        raise InputError(f"{path}: {data.record_name} has signals at other rates than its {data.fs:g} Hz ({rates}), "
                         "which neither a WFDB record nor an array holds; decompress it to .edf")
    return write_array(path, data, force) if path.suffix.lower() == NPY_SUFFIX else write_wfdb(path, data, force)


def record_paths(path: str | Path) -> list[Path]:
    """Every file that makes up the input (.npy or .mid itself, or .hea plus its .dat files), to count its bytes."""
    path = Path(path)
    _check_input(path)
    return [path] if _kind(path) in ("npy", "midi", "edf") else wfdb_files(path)

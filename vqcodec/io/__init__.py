"""Record I/O: pick the reader or writer by suffix (WFDB records, .npy arrays, MIDI performances)."""

from __future__ import annotations

from pathlib import Path

from vqcodec.ecg.signal import Signal
from vqcodec.errors import InputError
from vqcodec.io.array import read_array, write_array
from vqcodec.io.midi import read_midi, write_midi
from vqcodec.io.wfdb import RECORD_SUFFIXES, header_path, read_wfdb, record_base, wfdb_files, write_wfdb
from vqcodec.midi.performance import Performance

__all__ = ["read", "write", "record_paths", "read_array", "write_array", "read_wfdb", "write_wfdb", "read_midi",
           "write_midi", "is_midi"]

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
    """'npy', 'midi' or 'wfdb' by suffix; anything else is an InputError."""
    suffix = path.suffix.lower()
    if suffix == NPY_SUFFIX:
        return "npy"
    if suffix in MIDI_SUFFIXES:
        return "midi"
    if suffix in WFDB_SUFFIXES:
        return "wfdb"
    raise InputError(f"{path}: unsupported file type {suffix!r} (expected a WFDB record, .npy or .mid)")


def _check_input(path: Path) -> None:
    if path.is_dir():
        raise InputError(f"{path}: is a directory")
    if not path.exists() and not header_path(record_base(path)).exists():
        raise InputError(f"{path}: no such record")


def read(path: str | Path, fs: float | None = None) -> Signal | Performance:
    """Read a WFDB record (`NNN`, `NNN.hea`, `NNN.dat`), a .npy array (which needs fs) or a MIDI file."""
    path = Path(path)
    if _kind(path) == "midi":
        return read_midi(path)
    _check_input(path)
    return read_array(path, fs) if _kind(path) == "npy" else read_wfdb(path, fs)


def write(path: str | Path, data: Signal | Performance, force: bool = False) -> list[Path]:
    """Write a Performance as MIDI, a Signal as `.npy` (by suffix) or a WFDB record; returns the files written."""
    path = Path(path)
    if isinstance(data, Performance):
        return write_midi(path, data, force)
    return write_array(path, data, force) if path.suffix.lower() == NPY_SUFFIX else write_wfdb(path, data, force)


def record_paths(path: str | Path) -> list[Path]:
    """Every file that makes up the input (.npy or .mid itself, or .hea plus its .dat files), to count its bytes."""
    path = Path(path)
    _check_input(path)
    return [path] if _kind(path) in ("npy", "midi") else wfdb_files(path)

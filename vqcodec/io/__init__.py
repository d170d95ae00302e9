"""Record I/O: pick the reader or writer by suffix (WFDB records and .npy arrays)."""

from __future__ import annotations

from pathlib import Path

from vqcodec.errors import InputError
from vqcodec.io.array import read_array, write_array
from vqcodec.io.wfdb import RECORD_SUFFIXES, header_path, read_wfdb, record_base, wfdb_files, write_wfdb
from vqcodec.signal import Signal

__all__ = ["read", "write", "record_paths", "read_array", "write_array", "read_wfdb", "write_wfdb"]

NPY_SUFFIX = ".npy"
MIDI_SUFFIXES = (".mid", ".midi")
WFDB_SUFFIXES = ("",) + RECORD_SUFFIXES


def _kind(path: Path) -> str:
    """'npy' or 'wfdb' by suffix; anything else is an InputError."""
    suffix = path.suffix.lower()
    if suffix == NPY_SUFFIX:
        return "npy"
    if suffix in WFDB_SUFFIXES:
        return "wfdb"
    if suffix in MIDI_SUFFIXES:
        raise InputError(f"{path}: MIDI not supported yet")
    raise InputError(f"{path}: unsupported file type {suffix!r} (expected a WFDB record or .npy)")


def _check_input(path: Path) -> None:
    if path.is_dir():
        raise InputError(f"{path}: is a directory")
    if not path.exists() and not header_path(record_base(path)).exists():
        raise InputError(f"{path}: no such record")


def read(path: str | Path, fs: float | None = None) -> Signal:
    """Read a WFDB record (`NNN`, `NNN.hea`, `NNN.dat`) or a .npy array (which needs fs)."""
    path = Path(path)
    _check_input(path)
    return read_array(path, fs) if _kind(path) == "npy" else read_wfdb(path, fs)


def write(path: str | Path, signal: Signal, force: bool = False) -> list[Path]:
    """Write `.npy` as an array, anything else as a WFDB record; returns the files written."""
    path = Path(path)
    return write_array(path, signal, force) if path.suffix.lower() == NPY_SUFFIX else write_wfdb(path, signal, force)


def record_paths(path: str | Path) -> list[Path]:
    """Every file that makes up the input (.npy itself, or .hea plus its .dat files), to count its bytes."""
    path = Path(path)
    _check_input(path)
    if _kind(path) == "npy":
        return [path]
    return wfdb_files(path)

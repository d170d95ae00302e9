"""Safe output files: refuse to overwrite without force, write a temporary file beside the target, publish it whole.

So an error, Ctrl-C or a killed process mid-write never leaves a partial output under the output's name, and an
existing output stays untouched. Without force the temporary file is published by a hard link, which fails if the
name appeared meanwhile: of two processes writing one new output, one wins whole and the other gets a clear error,
never a mix. A device or pipe (`-o /dev/null`) is written in place: renaming over it would replace the device.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from vqcodec.errors import InputError, OutputExistsError, VqcError

_NEW_FILE_MODE = 0o666


def _umask() -> int:
    """The process umask (reading it means setting it, so it is put straight back)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def check_output(path: Path, force: bool) -> None:
    """InputError if the folder is missing or the output is a folder; OutputExistsError if the file exists and
    force is off."""
    if not path.parent.is_dir():
        raise InputError(f"{path}: output folder {path.parent} does not exist")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not an output file")
    if path.exists() and not force:
        raise OutputExistsError(f"{path}: already exists (use --force to overwrite)")


def write_atomic(path: str | Path, write: Callable[[BinaryIO], None], force: bool = False) -> Path:
    """Call write(fh) on a temporary file in path's folder, then rename it over path."""
    path = Path(path)
    check_output(path, force)
    if path.exists() and not path.is_file():  # a device or pipe (/dev/null): written in place, never replaced
        try:
            with open(path, "wb") as fh:
                write(fh)
        except OSError as e:
            raise VqcError(f"{path}: cannot write ({e.strerror or e})") from e
        return path

    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as e:  # a read-only folder refuses the temporary file
        raise VqcError(f"{path}: cannot write ({e.strerror or e})") from e
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())  # on disk before it has the output's name: a crash leaves old or new, whole
        publish(Path(tmp), path, force)
    except BaseException as e:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(e, VqcError):
            raise
        if isinstance(e, OSError):
            raise VqcError(f"{path}: cannot write ({e.strerror or e})") from e
        if isinstance(e, Exception):
            raise VqcError(f"{path}: cannot write: {e}") from e
        raise
    return path


def publish(tmp: Path, path: Path, force: bool) -> None:
    """Give the finished temporary file (written and synced) the output's name, and the mode open() would have given
    it (mkstemp makes 0600): replace with force; else a hard link, which is atomic and fails if another writer got
    there first (where the file system has no hard links, a rename after a last check)."""
    os.chmod(tmp, _NEW_FILE_MODE & ~_umask())
    if force:
        os.replace(tmp, path)
        return
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise OutputExistsError(f"{path}: already exists (written meanwhile by another process; use --force to "
                                "overwrite)") from None
    except OSError:  # no hard links here (some network and FUSE file systems)
        if path.exists():
            raise OutputExistsError(f"{path}: already exists (written meanwhile by another process)") from None
        os.replace(tmp, path)
        return
    tmp.unlink()

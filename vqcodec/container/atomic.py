"""Safe output files: refuse to overwrite without force, write a temporary file beside the target, rename.

So an error or Ctrl-C mid-write never leaves a partial output, and an existing output stays untouched. A device
or pipe (`-o /dev/null`) is written in place: renaming over it would replace the device with a file.
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
        os.chmod(tmp, _NEW_FILE_MODE & ~_umask())  # mkstemp makes 0600; an output gets what open() would give
        os.replace(tmp, path)
    except BaseException as e:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(e, OSError):
            raise VqcError(f"{path}: cannot write ({e.strerror or e})") from e
        if isinstance(e, Exception):
            raise VqcError(f"{path}: cannot write: {e}") from e
        raise
    return path

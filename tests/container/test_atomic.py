"""vqcodec.container.atomic: outputs appear whole or not at all, with the permissions a plain open() would give."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from vqcodec.container.atomic import write_atomic
from vqcodec.errors import InputError, OutputExistsError


def test_an_output_gets_the_mode_the_umask_allows(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        path = write_atomic(tmp_path / "out.bin", lambda fh: fh.write(b"data"))
    finally:
        os.umask(old)
    assert path.read_bytes() == b"data"
    assert path.stat().st_mode & 0o777 == 0o644  # mkstemp alone would leave 0600


def test_an_existing_output_needs_force_and_a_failed_write_leaves_nothing(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    with pytest.raises(OutputExistsError):
        write_atomic(target, lambda fh: fh.write(b"new"))

    def boom(fh: object) -> None:
        raise RuntimeError("disk full")

    with pytest.raises(Exception, match="disk full"):
        write_atomic(target, boom, force=True)
    assert target.read_bytes() == b"old" and sorted(p.name for p in tmp_path.iterdir()) == ["out.bin"]


def test_a_pipe_is_written_in_place_not_replaced_by_a_file(tmp_path: Path) -> None:
    import stat
    import threading

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    write_atomic(fifo, lambda fh: fh.write(b"data"), force=True)
    reader.join(timeout=10)
    assert got == [b"data"] and stat.S_ISFIFO(fifo.stat().st_mode)  # as `-o /dev/null` must stay a device


def test_a_folder_is_not_an_output(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="is a folder"):
        write_atomic(tmp_path, lambda fh: fh.write(b"data"), force=True)

"""Running the CLI in tests and the one failure check every CLI error must pass; the `cli` fixture is in conftest.py."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from vqcodec.cli import EXIT_ERROR


@dataclass
class CliResult:
    """What a CLI run left behind: exit status and the two output streams."""

    code: int
    stdout: str
    stderr: str


Runner = Callable[..., CliResult]
"""The `cli` fixture: run `vqcodec ARGS` in-process, return a CliResult."""


def run_process(*args: object, cwd: Path | None = None) -> CliResult:
    """Run `python -m vqcodec ARGS` as a user would (costs ~1 s: keep these few)."""
    proc = subprocess.run([sys.executable, "-m", "vqcodec", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=120)
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under `folder` (hidden temporaries included) with its bytes and mtime."""
    return {str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def assert_fails_cleanly(run: Callable[[], CliResult], names: str | Path, watch: Path,
                         code: int = EXIT_ERROR) -> str:
    """Run a failing CLI call and check the error contract; returns its one stderr line for further checks.

    Exit `code`; one stderr line that names `names`; no traceback; nothing under `watch` created, changed or
    left behind (no output, no temp file, existing outputs byte- and mtime-identical).
    """
    before = snapshot(watch)
    result = run()
    assert result.code == code, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert str(names) in lines[0], lines[0]
    assert "Traceback" not in result.stderr + result.stdout
    assert snapshot(watch) == before
    return lines[0]

"""Faults while writing, with real processes: two writers of one output, a compress killed at random points, a full
disk (a file-size limit). The output's name only ever holds a whole file, or nothing; the user gets one line."""

from __future__ import annotations

import random
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import vqcodec
from tests.helpers.signals import make_signal
from vqcodec import write

pytestmark = pytest.mark.slow  # real processes: a few seconds each


@pytest.fixture
def record(tmp_path: Path) -> Path:
    base = tmp_path / "rec"
    write(base, make_signal(40000, channels=2, seed=4))
    return base


def _compress(record: Path, out: Path, bundle: Path, *extra: str, **popen: object) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "vqcodec", "compress", f"{record}.hea", "-o", str(out),
                             "--model", str(bundle), *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, **popen)  # type: ignore[call-overload]


def _whole(out: Path, reference: bytes, bundle: Path) -> bool:
    return out.read_bytes() == reference and vqcodec.decompress(out, str(bundle)).n_samples == 40000


def test_two_writers_of_one_output_leave_one_whole_file_and_one_clear_error(
        record: Path, tiny_bundle: Path, tmp_path: Path) -> None:
    reference_path = tmp_path / "reference.vqc"
    assert _compress(record, reference_path, tiny_bundle).wait(120) == 0
    reference = reference_path.read_bytes()
    for attempt in range(3):
        out = tmp_path / f"same{attempt}.vqc"
        procs = [_compress(record, out, tiny_bundle) for _ in range(2)]
        results = [(p.wait(120), p.stderr.read()) for p in procs]  # type: ignore[union-attr]
        assert sorted(code for code, _ in results) == [0, 1], results
        loser = next(err for code, err in results if code == 1)
        assert len(loser.strip().splitlines()) == 1 and "already exists" in loser and "Traceback" not in loser
        assert _whole(out, reference, tiny_bundle)
    assert not list(tmp_path.glob(".*.tmp"))  # both finished: no temporary file left


def test_a_compress_killed_at_any_point_never_leaves_a_partial_file(
        record: Path, tiny_bundle: Path, tmp_path: Path) -> None:
    reference_path = tmp_path / "reference.vqc"
    start = time.perf_counter()
    assert _compress(record, reference_path, tiny_bundle).wait(120) == 0
    took = time.perf_counter() - start
    reference = reference_path.read_bytes()
    rng = random.Random(3)
    outcomes = set()
    for k in range(8):
        out = tmp_path / f"killed{k}.vqc"
        p = _compress(record, out, tiny_bundle)
        time.sleep(rng.uniform(0, 1.2 * took))
        p.send_signal(signal.SIGKILL)
        p.wait(60)
        if out.exists():
            assert _whole(out, reference, tiny_bundle)  # it finished before the kill: whole
            outcomes.add("whole")
        else:
            outcomes.add("absent")
    assert "absent" in outcomes  # some kills landed mid-write


def _limit_file_size(limit: int) -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # then a write past the limit fails with EFBIG, as a full disk
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))


def test_a_full_disk_gives_one_line_and_leaves_nothing(record: Path, tiny_bundle: Path, tmp_path: Path) -> None:
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    p = _compress(record, out_dir / "rec.vqc", tiny_bundle, preexec_fn=lambda: _limit_file_size(1024))
    code = p.wait(120)
    err = p.stderr.read()  # type: ignore[union-attr]
    assert code == 1, err
    assert len(err.strip().splitlines()) == 1 and str(out_dir / "rec.vqc") in err and "Traceback" not in err
    assert "cannot write" in err
    assert list(out_dir.iterdir()) == []  # no output, no temporary file


def test_a_full_disk_while_a_record_is_decoded_in_windows_gives_one_line_and_leaves_nothing(
        record: Path, tiny_bundle: Path, tmp_path: Path) -> None:
    vqc = tmp_path / "rec.vqc"
    assert _compress(record, vqc, tiny_bundle).wait(120) == 0
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    p = subprocess.Popen([sys.executable, "-m", "vqcodec", "decompress", str(vqc), "-o", str(out_dir / "rec"),
                          "--model", str(tiny_bundle)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         preexec_fn=lambda: _limit_file_size(20000))  # the .dat needs 120 kB
    code = p.wait(120)
    err = p.stderr.read()  # type: ignore[union-attr]
    assert code == 1, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err and "cannot write" in err, err
    assert list(out_dir.iterdir()) == []  # no .hea, no .dat, no temporary folder

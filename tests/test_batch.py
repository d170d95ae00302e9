"""Several inputs in one call: `vqcodec compress A B C -o out/`, a folder as input, --jobs; one bad input is
reported in one line and the others go on; the summary names every failure and the exit status is 1."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import vqcodec
from tests.helpers.signals import make_signal
from vqcodec import write
from vqcodec.ecg.signal import ChannelInfo, Signal


@pytest.fixture
def records(tmp_path: Path) -> Path:
    """A folder of three good records, a truncated one and one with a blood-pressure channel."""
    folder = tmp_path / "db"
    folder.mkdir()
    for k in range(3):
        write(folder / f"r{k}", make_signal(2000, channels=2, seed=k))
    write(folder / "cut", make_signal(2000, channels=2, seed=9))
    dat = folder / "cut.dat"
    dat.write_bytes(dat.read_bytes()[:500])
    sig = make_signal(2000, channels=1, seed=5)
    abp = ChannelInfo("ABP", "mmHg", 1.0, 0, 12, 0, "16")
    write(folder / "bp", Signal(np.column_stack([sig.samples[:, 0], np.rint(80 + 20 * sig.samples[:, 0])]), 360.0,
                                [sig.channels[0], abp], "bp"))
    return folder


def test_a_batch_reports_each_bad_record_and_finishes_the_others(cli, records: Path, tiny_bundle: Path,
                                                                 tmp_path: Path) -> None:
    out = tmp_path / "out"
    missing = records / "nosuch.hea"
    r = cli("compress", records, missing, "-o", f"{out}/", "--model", tiny_bundle)
    assert r.code == 1
    assert sorted(p.name for p in out.iterdir()) == ["r0.vqc", "r1.vqc", "r2.vqc"]  # nothing partial for the bad
    summary = r.stderr.strip().splitlines()[-1]
    assert "3 of 6 compressed" in summary
    for bad in ("cut.hea", "bp.hea", "nosuch.hea"):
        assert bad in summary
        assert sum(bad in line for line in r.stderr.splitlines()[:-1]) == 1  # its own line, once
    assert "Traceback" not in r.stderr
    back = tmp_path / "back"
    d = cli("decompress", out, "-o", f"{back}/", "--model", tiny_bundle, "--jobs", "2")
    assert d.code == 0, d.stderr
    assert "3 of 3 decoded" in d.stderr
    assert sorted(p.name for p in back.iterdir()) == ["r0.dat", "r0.hea", "r1.dat", "r1.hea", "r2.dat", "r2.hea"]
    assert vqcodec.read(back / "r1").n_samples == 2000


def test_several_inputs_need_a_folder_as_output(cli, records: Path, tiny_bundle: Path, tmp_path: Path) -> None:
    r = cli("compress", records / "r0.hea", records / "r1.hea", "-o", tmp_path / "one.vqc", "--model", tiny_bundle)
    assert r.code == 2 and "need -o to be a folder" in r.stderr
    assert not (tmp_path / "one.vqc").exists()


def test_jobs_give_the_same_files_as_one_process(cli, records: Path, tiny_bundle: Path, tmp_path: Path) -> None:
    inputs = [records / f"r{k}.hea" for k in range(3)]
    assert cli("compress", *inputs, "-o", f"{tmp_path / 'a'}/", "--model", tiny_bundle).code == 0
    assert cli("compress", *inputs, "-o", f"{tmp_path / 'b'}/", "--model", tiny_bundle, "-j", "2").code == 0
    for k in range(3):
        assert (tmp_path / "a" / f"r{k}.vqc").read_bytes() == (tmp_path / "b" / f"r{k}.vqc").read_bytes()


@pytest.mark.slow
def test_a_local_dask_cluster_writes_the_same_files_and_reports_the_bad_one(cli, records: Path, tiny_bundle: Path,
                                                                            tmp_path: Path) -> None:
    """A real LocalCluster of two worker processes: the same bytes as one process, the bad record reported by the
    client in its own line, the summary and exit status as without a cluster."""
    pytest.importorskip("dask.distributed")
    inputs = [records / f"r{k}.hea" for k in range(3)] + [records / "cut.hea"]
    here = cli("compress", *inputs, "-o", f"{tmp_path / 'here'}/", "--model", tiny_bundle)
    there = cli("compress", *inputs, "-o", f"{tmp_path / 'dask'}/", "--model", tiny_bundle, "--scheduler", "local",
                "--jobs", "2")
    assert here.code == there.code == 1
    assert "3 of 4 compressed" in there.stderr and sum("cut.hea" in line for line in there.stderr.splitlines()) == 2
    for k in range(3):
        assert (tmp_path / "here" / f"r{k}.vqc").read_bytes() == (tmp_path / "dask" / f"r{k}.vqc").read_bytes()
    v = cli("verify", tmp_path / "dask", "--model", tiny_bundle, "--scheduler", "local", "--jobs", "2")
    assert v.code == 0 and v.stdout.count(": OK") == 3

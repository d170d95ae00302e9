"""Several inputs in one call: `vqcodec compress A B C -o out/`, a folder as input, --jobs; one bad input is
reported in one line and the others go on; the summary names every failure and the exit status is 1. And the rest
of vqcodec/batch.py: compress_many and decompress_many, --summary rows, --resume, the progress bar, standard input
and output, real Dask processes, and workers or whole batches killed half way."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import vqcodec
from tests.helpers.cli import assert_fails_cleanly, run_process
from tests.helpers.notes import random_performance
from tests.helpers.processes import (
    VQCODEC,
    children,
    free_port,
    listening,
    run_on_a_terminal,
    stop_group,
    wait_for,
)
from tests.helpers.signals import make_signal
from vqcodec import Status, write
from vqcodec.batch import SUMMARY_COLUMNS
from vqcodec.ecg.signal import Signal


@pytest.fixture
def records(tmp_path: Path) -> Path:
    """A folder of three good records, a truncated one and a broken EDF file (a record with a blood-pressure channel
    is a good one now: the channel is coded without the model)."""
    folder = tmp_path / "db"
    folder.mkdir()
    for k in range(3):
        write(folder / f"r{k}", make_signal(2000, channels=2, seed=k))
    write(folder / "cut", make_signal(2000, channels=2, seed=9))
    dat = folder / "cut.dat"
    dat.write_bytes(dat.read_bytes()[:500])
    (folder / "bad.edf").write_bytes(b"0       " + b" " * 100)  # an EDF header cut short
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
    for bad in ("cut.hea", "bad.edf", "nosuch.hea"):
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


def _rows(path: Path) -> list[dict]:
    """A summary file's rows, CSV or JSON lines by its suffix (CSV values as text)."""
    if path.suffix == ".csv":
        with path.open(newline="") as f:
            return list(csv.DictReader(f))
    return [json.loads(line) for line in path.read_text().splitlines()]


def _printed(name: str, text: str) -> float:
    """A figure from a `vqcodec compress` line: 'CR 5.46' -> 5.46."""
    found = re.search(rf"\b{name} ([0-9.]+)", text)
    assert found, text
    return float(found.group(1))


def test_compress_many_gives_typed_results_and_the_files_one_compress_writes(cli, records: Path, tiny_bundle: Path,
                                                                             tmp_path: Path) -> None:
    """The Python API: one result per input, in input order, a failure as a result with its one-line error; every
    file byte for byte what a single `vqcodec compress` of its record writes, with the figures that compress
    prints."""
    results = vqcodec.compress_many([records], tmp_path / "out", model=tiny_bundle)
    assert [Path(r.input).name for r in results] == ["bad.edf", "cut.hea", "r0.hea", "r1.hea", "r2.hea"]
    assert [r.status for r in results] == [Status.FAILED, Status.FAILED, Status.OK, Status.OK, Status.OK]
    for bad in results[:2]:
        assert bad.output is None and Path(bad.input).name in bad.error and "\n" not in bad.error
        assert bad.error in bad.said and not bad.ok
    for k, r in enumerate(results[2:]):
        single = cli("compress", records / f"r{k}.hea", "-o", tmp_path / f"single{k}.vqc", "--model", tiny_bundle)
        assert single.code == 0, single.stderr
        assert r.output is not None and Path(r.output).read_bytes() == (tmp_path / f"single{k}.vqc").read_bytes()
        assert r.n_bytes == Path(r.output).stat().st_size
        assert r.cr == pytest.approx(_printed("CR", single.stderr), abs=0.006)
        assert r.prdn == pytest.approx(_printed("PRDN", single.stderr), abs=0.006)
        assert r.bits_per_note is None and r.seconds > 0

    back = vqcodec.decompress_many([tmp_path / "out"], tmp_path / "back", model=tiny_bundle, jobs=2)
    assert [(r.status, Path(r.output or "").name) for r in back] == [(Status.OK, f"r{k}.hea") for k in range(3)]
    assert [r.n_bytes for r in back] == [r.n_bytes for r in results[2:]]
    assert vqcodec.read(back[1].output).n_samples == 2000


def test_midi_results_give_bits_per_note(tmp_path: Path) -> None:
    from vqcodec.io.midi import write_midi

    (tmp_path / "songs").mkdir()
    write_midi(tmp_path / "songs" / "a.mid", random_performance(200, seed=3, long_gaps=False))
    [r] = vqcodec.compress_many([tmp_path / "songs"], tmp_path / "out")
    assert r.status is Status.OK and r.prdn is None
    assert r.bits_per_note == pytest.approx(8 * Path(r.output).stat().st_size / 200)
    assert r.cr == pytest.approx((tmp_path / "songs" / "a.mid").stat().st_size / r.n_bytes)


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_the_summary_has_one_row_per_record(cli, records: Path, tiny_bundle: Path, tmp_path: Path,
                                            suffix: str) -> None:
    out, summary = tmp_path / "out", tmp_path / "reports" / f"summary{suffix}"
    missing = records / "nosuch.hea"
    r = cli("compress", records, missing, "-o", f"{out}/", "--model", tiny_bundle, "--summary", summary, "-j", "2")
    assert r.code == 1
    rows = _rows(summary)
    assert all(list(row) == list(SUMMARY_COLUMNS) for row in rows)
    inputs = [*records.glob("*.hea"), *records.glob("*.edf"), missing]
    assert sorted(row["record"] for row in rows) == sorted(map(str, inputs))
    ok = [row for row in rows if row["status"] == "ok"]
    assert sorted(Path(row["output"]).name for row in ok) == ["r0.vqc", "r1.vqc", "r2.vqc"]
    for row in ok:
        assert int(row["bytes"]) == Path(row["output"]).stat().st_size
        assert float(row["cr"]) > 1 and float(row["prdn"]) > 0 and float(row["seconds"]) > 0
        assert not row["error"] and not row["bits_per_note"]
    for row in rows:
        if row not in ok:
            assert row["status"] == "failed" and not row["output"] and not row["bytes"]
            assert Path(row["record"]).name in row["error"] and row["error"] in r.stderr


def test_a_single_input_writes_its_summary_row(cli, records: Path, tiny_bundle: Path, tmp_path: Path) -> None:
    good = cli("compress", records / "r0.hea", "-o", tmp_path / "one.vqc", "--model", tiny_bundle, "--summary",
               tmp_path / "good.csv")
    assert good.code == 0 and good.stderr.startswith(f"{tmp_path / 'one.vqc'}: CR ")  # the line, shown as it comes
    [row] = _rows(tmp_path / "good.csv")
    assert (row["status"], row["output"], int(row["bytes"])) == ("ok", str(tmp_path / "one.vqc"),
                                                                 (tmp_path / "one.vqc").stat().st_size)
    bad = cli("compress", records / "cut.hea", "-o", tmp_path / "cut.vqc", "--model", tiny_bundle, "--summary",
              tmp_path / "bad.jsonl")
    assert bad.code == 1 and len(bad.stderr.strip().splitlines()) == 1
    [row] = _rows(tmp_path / "bad.jsonl")
    assert row["status"] == "failed" and row["error"] in bad.stderr and "cut" in row["error"]


def test_verify_writes_summary_rows_too(cli, records: Path, tiny_bundle: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert cli("compress", *(records / f"r{k}.hea" for k in range(3)), "-o", f"{out}/", "--model",
               tiny_bundle).code == 0
    (out / "r2.vqc").write_bytes((out / "r2.vqc").read_bytes()[:-9])
    v = cli("verify", out, "--model", tiny_bundle, "--summary", tmp_path / "v.jsonl")
    assert v.code == 1
    rows = {Path(row["record"]).name: row for row in _rows(tmp_path / "v.jsonl")}
    assert [rows[f"r{k}.vqc"]["status"] for k in range(3)] == ["ok", "ok", "failed"]
    assert rows["r2.vqc"]["error"].startswith(f"{out / 'r2.vqc'}: ")
    assert rows["r0.vqc"]["bytes"] == (out / "r0.vqc").stat().st_size


def test_a_summary_must_be_csv_or_json_lines(cli, records: Path, tiny_bundle: Path, tmp_path: Path) -> None:
    line = assert_fails_cleanly(lambda: cli("compress", records, "-o", f"{tmp_path / 'out'}/", "--model", tiny_bundle,
                                            "--summary", tmp_path / "s.txt"), "s.txt", tmp_path)
    assert ".csv or .jsonl" in line


def test_resume_skips_complete_outputs_and_writes_the_rest(cli, records: Path, tiny_bundle: Path,
                                                           tmp_path: Path) -> None:
    inputs = [records / f"r{k}.hea" for k in range(3)]
    out = tmp_path / "out"
    assert cli("compress", *inputs, "-o", f"{out}/", "--model", tiny_bundle).code == 0
    reference = {p.name: p.read_bytes() for p in out.iterdir()}
    again = cli("compress", *inputs, "-o", f"{out}/", "--model", tiny_bundle)
    assert again.code == 1 and "0 of 3 compressed" in again.stderr and again.stderr.count("already exists") == 3
    kept = (out / "r0.vqc").stat().st_mtime_ns
    (out / "r1.vqc").unlink()
    (out / "r2.vqc").write_bytes(reference["r2.vqc"][:-10])  # cut short: fails its checks, so it is written again
    r = cli("compress", *inputs, "-o", f"{out}/", "--model", tiny_bundle, "--resume", "--summary", tmp_path / "s.csv")
    assert r.code == 0, r.stderr
    assert f"{inputs[0]}: skipped (complete): {out / 'r0.vqc'}" in r.stderr
    assert r.stderr.strip().splitlines()[-1] == "vqcodec: 2 of 3 compressed, 1 skipped (complete)"
    assert (out / "r0.vqc").stat().st_mtime_ns == kept
    assert {p.name: p.read_bytes() for p in out.iterdir()} == reference
    assert [row["status"] for row in _rows(tmp_path / "s.csv")] == ["skipped", "ok", "ok"]

    back = tmp_path / "back"
    assert cli("decompress", out, "-o", f"{back}/", "--model", tiny_bundle).code == 0
    dat = (back / "r1.dat").read_bytes()
    (back / "r1.hea").unlink()  # as a process killed between writing the .dat and the .hea leaves it
    d = cli("decompress", out, "-o", f"{back}/", "--model", tiny_bundle, "--resume")
    assert d.code == 0, d.stderr
    assert d.stderr.strip().splitlines()[-1] == "vqcodec: 1 of 3 decoded, 2 skipped (complete)"
    assert (back / "r1.hea").is_file() and (back / "r1.dat").read_bytes() == dat
    one = cli("decompress", out / "r0.vqc", "-o", f"{back}/", "--model", tiny_bundle, "--resume")
    assert one.code == 0 and one.stderr == f"{out / 'r0.vqc'}: skipped (complete): {back / 'r0.hea'}\n"


def test_threads_give_the_same_files(cli, records: Path, tiny_bundle: Path, tmp_path: Path) -> None:
    inputs = [records / f"r{k}.hea" for k in range(2)]
    assert cli("compress", *inputs, "-o", f"{tmp_path / 'a'}/", "--model", tiny_bundle).code == 0
    assert cli("compress", *inputs, "-o", f"{tmp_path / 'b'}/", "--model", tiny_bundle, "--threads", "1",
               "-j", "2").code == 0
    for k in range(2):
        assert (tmp_path / "a" / f"r{k}.vqc").read_bytes() == (tmp_path / "b" / f"r{k}.vqc").read_bytes()
    assert cli("verify", tmp_path / "b", "--model", tiny_bundle, "--threads", "1").code == 0


def test_the_progress_bar_shows_on_a_terminal_only(cli, records: Path, tiny_bundle: Path, tmp_path: Path) -> None:
    inputs = [records / f"r{k}.hea" for k in range(3)]
    piped = cli("compress", *inputs, "-o", f"{tmp_path / 'a'}/", "--model", tiny_bundle)
    assert piped.code == 0
    assert "records/s" not in piped.stderr and "\r" not in piped.stderr and "%|" not in piped.stderr
    code, shown = run_on_a_terminal("compress", *inputs, "-o", f"{tmp_path / 'b'}/", "--model", tiny_bundle)
    assert code == 0, shown
    assert "records/s" in shown and "3/3" in shown and "100%" in shown
    assert "vqcodec: 3 of 3 compressed" in shown and shown.count("bits/sample") == 3  # each record's line too


def test_a_pipe_from_compress_into_decompress(tiny_bundle: Path, tmp_path: Path) -> None:
    """`vqcodec compress - -o - | vqcodec decompress - -o -`, real processes: an ECG array (.npy) and a MIDI file,
    each kind found from the bytes on standard input."""
    from vqcodec.io.midi import write_midi

    sig = make_signal(3000, channels=2, seed=3)
    np.save(tmp_path / "x.npy", sig.samples)
    expected = vqcodec.decompress(vqcodec.compress(vqcodec.read(tmp_path / "x.npy", fs=360.0), tiny_bundle),
                                  tiny_bundle)
    got, said = _pipe(tmp_path / "x.npy", ["--fs", "360", "--model", tiny_bundle], ["--model", tiny_bundle])
    assert said[0].startswith("<stdin>: CR ") and said[1] == "<stdin>: wrote a .npy array to stdout"
    np.testing.assert_allclose(np.load(io.BytesIO(got)), expected.samples, atol=1e-3)  # within 1 µV (.npy's step)

    perf = random_performance(150, seed=4, long_gaps=False)
    write_midi(tmp_path / "song.mid", perf)
    got, said = _pipe(tmp_path / "song.mid", [], [])
    assert said[1] == "<stdin>: wrote a MIDI file to stdout"
    (tmp_path / "back.mid").write_bytes(got)
    back = vqcodec.read(tmp_path / "back.mid")
    assert sorted(back.pitch) == sorted(perf.pitch)  # every pitch comes back exact


def _pipe(source: Path, compress_args: list, decompress_args: list) -> tuple[bytes, list[str]]:
    """`vqcodec compress - -o - < source | vqcodec decompress - -o -`: the bytes out and each one's stderr line."""
    with source.open("rb") as stdin:
        first = subprocess.Popen([*VQCODEC, "compress", "-", "-o", "-", *map(str, compress_args)], stdin=stdin,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        second = subprocess.Popen([*VQCODEC, "decompress", "-", "-o", "-", *map(str, decompress_args)],
                                  stdin=first.stdout, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert first.stdout is not None and first.stderr is not None
        first.stdout.close()  # the second process holds the pipe now
        out, err2 = second.communicate(timeout=120)
        err1 = first.stderr.read()
        first.wait(timeout=120)
        first.stderr.close()
    assert first.returncode == 0 and second.returncode == 0, (err1, err2)
    lines = [err1.decode().strip(), err2.decode().strip()]
    assert all(len(line.splitlines()) == 1 for line in lines) and "Traceback" not in "".join(lines)
    return out, lines


@pytest.mark.parametrize(("args", "data", "says"), [
    (("compress", "-", "-o", "x.vqc"), b"just text", "neither a .npy array nor a MIDI file"),
    (("compress", "-", "-o", "x.vqc"), "npy", ".npy input needs --fs"),
    (("compress", "-", "-o", "x.vqc"), b"MThd\x00\x00\x00\x06", "<stdin>"),
    (("decompress", "-", "-o", "x"), b"\x89VQC and then nothing", "<stdin>"),
    (("decompress", "-", "-o", "-"), b"", "empty"),
], ids=["text", "npy-without-fs", "cut-midi", "bad-vqc", "empty"])
def test_bad_standard_input_is_one_line_naming_stdin(cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                     args: tuple, data: bytes | str, says: str) -> None:
    if data == "npy":
        buffer = io.BytesIO()
        np.save(buffer, make_signal(500, channels=1).samples)
        data = buffer.getvalue()
    assert isinstance(data, bytes)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    line = assert_fails_cleanly(lambda: cli(*args), "<stdin>", tmp_path)
    assert says in line and "vqcodec-stdin" not in line and "stdin.npy" not in line


def test_standard_input_is_the_only_input(cli, records: Path, tmp_path: Path) -> None:
    r = cli("compress", "-", records / "r0.hea", "-o", f"{tmp_path}/")
    assert r.code == 2 and "must be the only input" in r.stderr


# --- real processes killed half way, and a real Dask cluster -------------------------------------------------------

LONG_RECORDS = 6


@pytest.fixture(scope="module")
def long_records(tmp_path_factory: pytest.TempPathFactory, tiny_bundle: Path) -> tuple[Path, dict[str, bytes]]:
    """Six 5-minute records (long enough to kill a batch half way) and the files one process writes for them."""
    db = tmp_path_factory.mktemp("long")
    for k in range(LONG_RECORDS):
        minute = make_signal(360 * 60, channels=2, seed=20 + k)
        write(db / f"l{k}", Signal(np.tile(minute.samples, (5, 1)), 360.0, minute.channels, f"l{k}"))
    out = tmp_path_factory.mktemp("long-out")
    results = vqcodec.compress_many([db], out, model=tiny_bundle)
    assert all(r.status is Status.OK for r in results)
    return db, {p.name: p.read_bytes() for p in out.iterdir()}


def _outputs(folder: Path) -> dict[str, bytes]:
    """The outputs in a folder by name (hidden temporary files left aside)."""
    return {p.name: p.read_bytes() for p in folder.iterdir() if not p.name.startswith(".")}


@pytest.mark.slow  # long records, so that the kill lands half way
def test_a_killed_pool_worker_leaves_no_partial_output_and_its_records_run_again(long_records, tiny_bundle: Path,
                                                                                  tmp_path: Path) -> None:
    db, reference = long_records
    out = tmp_path / "out"
    proc = subprocess.Popen([*VQCODEC, "compress", db, "-o", f"{out}/", "--model", tiny_bundle, "-j", "2"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        wait_for(lambda: out.is_dir() and any(out.glob("*.vqc")), 120, "the batch's first output")
        workers = children(proc.pid)
        assert workers, "no worker processes"
        os.kill(workers[0], signal.SIGKILL)  # mid-record: the other records are not done yet
        _, err = proc.communicate(timeout=180)
    finally:
        stop_group(proc)
    assert proc.returncode == 0, err
    assert "a worker process died" in err and "Traceback" not in err
    assert "failed" not in err.strip().splitlines()[-1]
    assert _outputs(out) == reference  # every output whole, none partial, the same bytes as one process writes


@pytest.mark.slow  # long records, so that the kill lands half way
def test_a_batch_killed_half_way_keeps_its_summary_rows_and_resume_finishes_it(cli, long_records, tiny_bundle: Path,
                                                                               tmp_path: Path) -> None:
    db, reference = long_records
    out, first_rows = tmp_path / "out", tmp_path / "first.csv"
    proc = subprocess.Popen([*VQCODEC, "compress", db, "-o", f"{out}/", "--model", tiny_bundle, "--summary",
                             first_rows], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        wait_for(lambda: first_rows.is_file() and first_rows.read_text().count("\n") >= 2, 120, "a summary row")
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        stop_group(proc)
    first = _rows(first_rows)
    assert first_rows.read_text().endswith("\n") and 1 <= len(first) < LONG_RECORDS  # whole rows, flushed as done
    for row in first:
        assert row["status"] == "ok" and Path(row["output"]).read_bytes() == reference[Path(row["output"]).name]
    assert set(_outputs(out)) <= set(reference)

    done = cli("compress", db, "-o", f"{out}/", "--model", tiny_bundle, "--resume", "--summary", tmp_path / "b.csv")
    assert done.code == 0, done.stderr
    rows = _rows(tmp_path / "b.csv")
    assert sum(row["status"] == "skipped" for row in rows) >= len(first)
    assert all(row["status"] in ("ok", "skipped") for row in rows) and len(rows) == LONG_RECORDS
    assert _outputs(out) == reference


@pytest.mark.slow
def test_a_batch_on_a_dask_cluster_of_real_scheduler_and_worker_processes(records: Path, tiny_bundle: Path,
                                                                          tmp_path: Path) -> None:
    """`dask scheduler` and `dask worker` started as a user starts them; the CLI (a real process) with --scheduler
    tcp://..., and compress_many with the user's own Client, write what one process writes."""
    distributed = pytest.importorskip("dask.distributed")
    dask = Path(sys.executable).with_name("dask")
    if not dask.is_file():
        pytest.skip(f"no dask command beside {sys.executable}")
    inputs = [records / f"r{k}.hea" for k in range(3)] + [records / "cut.hea"]
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    logs = (tmp_path / "scheduler.log").open("w"), (tmp_path / "worker.log").open("w")
    started: list[subprocess.Popen] = []
    try:
        started.append(subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", str(port),
                                         "--no-dashboard"], stdout=logs[0], stderr=subprocess.STDOUT,
                                        start_new_session=True))
        wait_for(lambda: listening(port), 60, "the Dask scheduler")
        started.append(subprocess.Popen([dask, "worker", address, "--nworkers", "2", "--nthreads", "1",
                                         "--no-dashboard", "--memory-limit", "0"], stdout=logs[1],
                                        stderr=subprocess.STDOUT, start_new_session=True))
        there = run_process("compress", *inputs, "-o", f"{tmp_path / 'dask'}/", "--model", tiny_bundle,
                            "--scheduler", address)
        with distributed.Client(address, timeout=60) as client:
            results = vqcodec.compress_many(inputs, tmp_path / "api", model=tiny_bundle, client=client)
    finally:
        for proc in reversed(started):
            stop_group(proc)
        for log in logs:
            log.close()
    here = vqcodec.compress_many(inputs, tmp_path / "here", model=tiny_bundle)
    assert there.code == 1 and "3 of 4 compressed; failed: " in there.stderr and "Traceback" not in there.stderr
    assert [r.status for r in results] == [r.status for r in here] == [Status.OK] * 3 + [Status.FAILED]
    assert _outputs(tmp_path / "dask") == _outputs(tmp_path / "api") == _outputs(tmp_path / "here")
    assert len(_outputs(tmp_path / "here")) == 3

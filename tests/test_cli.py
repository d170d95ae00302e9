"""The CLI end to end, as a user runs it (subprocess): outputs, one-line errors, exit codes, --force."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.helpers.signals import make_signal
from vqcodec.ecg.signal import ChannelInfo
from vqcodec.io import read, write
from vqcodec.models.bundle import ALIASES

EXIT_ERROR = 1


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vqcodec", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=120)


def assert_clean_failure(proc: subprocess.CompletedProcess, mentions: str | Path) -> None:
    """Exit 1, exactly one stderr line that names the file, no traceback."""
    assert proc.returncode == EXIT_ERROR, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert str(mentions) in lines[0]
    assert "Traceback" not in proc.stderr


@pytest.fixture
def record(tmp_path) -> Path:
    base = tmp_path / "rec"
    write(base, make_signal(3000, channels=2))
    return base


def test_compress_info_decompress_round_trip(record, tiny_bundle, tmp_path):
    out = tmp_path / "rec.vqc"
    proc = run_cli("compress", f"{record}.hea", "-o", out, "--model", tiny_bundle)
    assert proc.returncode == 0, proc.stderr
    assert "CR" in proc.stderr and "PRDN" in proc.stderr and "max error" in proc.stderr
    info = run_cli("info", out)
    assert info.returncode == 0 and "tiny-test" in info.stdout and "PRDN" in info.stdout
    dec = run_cli("decompress", out, "-o", tmp_path / "back" / "rec", "--model", tiny_bundle)
    assert dec.returncode == 0, dec.stderr  # the output folder back/ did not exist: it is made
    a, b = read(record), read(tmp_path / "back" / "rec")
    assert b.samples.shape == a.samples.shape
    assert [c.name for c in b.channels] == [c.name for c in a.channels]
    assert [(c.fmt, c.gain, c.baseline, c.units) for c in b.channels] == [
        (c.fmt, c.gain, c.baseline, c.units) for c in a.channels]


def test_existing_output_is_untouched_without_force(record, tiny_bundle, tmp_path):
    out = tmp_path / "rec.vqc"
    out.write_bytes(b"precious")
    mtime = out.stat().st_mtime_ns
    proc = run_cli("compress", record, "-o", out, "--model", tiny_bundle)
    assert_clean_failure(proc, out)
    assert out.read_bytes() == b"precious" and out.stat().st_mtime_ns == mtime
    proc = run_cli("compress", record, "-o", out, "--model", tiny_bundle, "--force")
    assert proc.returncode == 0 and out.read_bytes()[:4] == b"\x89VQC"
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_missing_input_is_one_line(tmp_path):
    missing = tmp_path / "nothing.hea"
    assert_clean_failure(run_cli("compress", missing, "-o", tmp_path / "x.vqc"), missing)
    assert not (tmp_path / "x.vqc").exists()


def test_a_non_vqc_file_is_one_line(record, tmp_path):
    assert_clean_failure(run_cli("info", f"{record}.dat"), f"{record}.dat")
    assert_clean_failure(run_cli("decompress", f"{record}.hea", "-o", tmp_path / "o"), f"{record}.hea")


def test_unknown_model_lists_the_installed_ones(record, tmp_path):
    proc = run_cli("compress", record, "-o", tmp_path / "x.vqc", "--model", "nope")
    assert_clean_failure(proc, "nope")
    assert "installed" in proc.stderr


def test_npy_input_needs_fs_and_works_with_it(tiny_bundle, tmp_path):
    arr = tmp_path / "sig.npy"
    np.save(arr, make_signal(1000, channels=1).samples)
    assert_clean_failure(run_cli("compress", arr, "-o", tmp_path / "a.vqc", "--model", tiny_bundle), arr)
    proc = run_cli("compress", arr, "--fs", "360", "-o", tmp_path / "a.vqc", "--model", tiny_bundle)
    assert proc.returncode == 0, proc.stderr
    proc = run_cli("decompress", tmp_path / "a.vqc", "-o", tmp_path / "b.npy", "--model", tiny_bundle)
    assert proc.returncode == 0, proc.stderr
    assert np.load(tmp_path / "b.npy").shape == (1000, 1)


def test_vqcodec_imports_and_runs_without_torch(record, tmp_path):
    """The runtime must never need torch: block it and run the whole CLI."""
    shipped = Path(__file__).resolve().parents[1] / "vqcodec" / "models" / ALIASES["ecg"]
    if not shipped.is_dir():
        pytest.skip("no shipped model yet")
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "import vqcodec\n"
        "from vqcodec.cli import main\n"
        f"sys.argv = ['vqcodec', 'compress', {str(record)!r}, '-o', {str(tmp_path / 'r.vqc')!r}]\n"
        "main()\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "r.vqc").stat().st_size > 0


def test_compress_to_stdout_writes_the_vqc_bytes(record, tiny_bundle, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "vqcodec", "compress", str(record), "-o", "-", "--model",
                           str(tiny_bundle)], capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout[:4] == b"\x89VQC"
    (tmp_path / "piped.vqc").write_bytes(proc.stdout)
    assert run_cli("info", tmp_path / "piped.vqc").returncode == 0
    assert not (tmp_path / "-").exists()


def test_compress_refuses_to_write_binary_to_a_terminal(record, tiny_bundle):
    import pty

    main_fd, tty_fd = pty.openpty()
    try:
        proc = subprocess.run([sys.executable, "-m", "vqcodec", "compress", str(record), "-o", "-", "--model",
                               str(tiny_bundle)], stdout=tty_fd, stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(tty_fd)
        os.close(main_fd)
    assert proc.returncode == EXIT_ERROR
    assert "terminal" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("flags, bound", [(("--lossless",), 0), (("--max-error", "4"), 4)])
def test_an_error_bound_holds_through_the_cli_and_info_shows_it(record, tiny_bundle, tmp_path, flags, bound):
    out = tmp_path / "rec.vqc"
    proc = run_cli("compress", record, "-o", out, "--model", tiny_bundle, *flags)
    assert proc.returncode == 0, proc.stderr
    info = run_cli("info", out)
    assert ("lossless" if bound == 0 else f"|error| <= {bound}") in info.stdout
    (tmp_path / "back").mkdir()
    dec = run_cli("decompress", out, "-o", tmp_path / "back" / "rec", "--model", tiny_bundle)
    assert dec.returncode == 0, dec.stderr
    a, b = read(record), read(tmp_path / "back" / "rec")
    assert np.abs(a.digital() - b.digital()).max() <= bound


def test_lossless_and_a_positive_max_error_contradict(record, tmp_path):
    proc = run_cli("compress", record, "-o", tmp_path / "x.vqc", "--lossless", "--max-error", "3")
    assert proc.returncode == 2 and "contradict" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "x.vqc").exists()


def test_max_prdn_reports_the_level_it_chose_and_refuses_a_quality_beside_it(record, tiny_bundle, tmp_path):
    proc = run_cli("compress", record, "-o", tmp_path / "p.vqc", "--model", tiny_bundle, "--max-prdn", "1000")
    assert proc.returncode == 0, proc.stderr
    assert "[quality 1]" in proc.stderr and "warning" not in proc.stderr  # loose: the cheapest level
    tight = run_cli("compress", record, "-o", tmp_path / "m.vqc", "--model", tiny_bundle, "--max-prdn", "0.001")
    assert tight.returncode == 0 and "[lossless]" in tight.stderr  # beyond the ladder: the residual layer
    assert run_cli("decompress", tmp_path / "m.vqc", "-o", tmp_path / "m", "--model", tiny_bundle).returncode == 0
    np.testing.assert_array_equal(read(tmp_path / "m").samples, read(record).samples)
    both = run_cli("compress", record, "-o", tmp_path / "q.vqc", "--max-prdn", "5", "--quality", "2")
    assert both.returncode == 2 and "--max-prdn" in both.stderr and not (tmp_path / "q.vqc").exists()


def test_the_output_may_not_be_a_file_of_the_input_even_with_force(record, tmp_path):
    header = Path(f"{record}.hea")
    before = header.read_bytes()
    proc = run_cli("compress", record, "-o", header, "--force")
    assert_clean_failure(proc, header)
    assert header.read_bytes() == before


def test_a_usage_error_is_one_line_with_exit_2(record, tmp_path):
    proc = run_cli("compress", record, "-o", tmp_path / "x.vqc", "--max-prdn", "0")
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1 and "--max-prdn" in proc.stderr
    assert "Usage" not in proc.stderr and not (tmp_path / "x.vqc").exists()


def test_a_name_too_long_for_the_system_is_one_line(tmp_path):
    long = tmp_path / ("y" * 300)
    assert_clean_failure(run_cli("compress", long, "-o", tmp_path / "x.vqc"), "y" * 300)
    assert_clean_failure(run_cli("info", long.with_suffix(".vqc")), "y" * 300)


def test_a_record_failing_its_own_checksum_is_compressed_only_with_force(record, tmp_path):
    dat = Path(f"{record}.dat")
    raw = bytearray(dat.read_bytes())
    raw[9] ^= 0x01  # one sample changed; the header's checksum still describes the original
    dat.write_bytes(bytes(raw))
    out = tmp_path / "c.vqc"
    assert_clean_failure(run_cli("compress", record, "-o", out), "checksum mismatch")
    assert not out.exists()
    forced = run_cli("compress", record, "-o", out, "--force")
    assert forced.returncode == 0 and out.exists() and "checksum mismatch" in forced.stderr


def test_a_dotted_npy_name_keeps_its_dots_in_the_vqc_and_decodes_to_a_valid_record_name(tiny_bundle, tmp_path):
    np.save(tmp_path / "a.b.npy", make_signal(3000, channels=1).samples[:, 0])
    assert run_cli("compress", "a.b.npy", "--fs", "360", "--model", tiny_bundle, cwd=tmp_path).returncode == 0
    assert (tmp_path / "a.b.vqc").exists()
    proc = run_cli("decompress", "a.b.vqc", "--model", tiny_bundle, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert read(tmp_path / "a_b").n_samples == 3000


@pytest.fixture
def ecg_and_bp(tmp_path) -> Path:
    sig = make_signal(3000, channels=2)
    sig.channels[1] = ChannelInfo("ABP", "mmHg", 200.0, 1024, 11, 1024, "212")
    write(tmp_path / "mixed", sig)
    return tmp_path / "mixed"


def test_a_non_ecg_channel_is_coded_without_the_model_in_the_same_file(ecg_and_bp, tiny_bundle, tmp_path):
    """ABP (mmHg) is no channel for the model: it is coded by the residual layer alone (lossless by default) as an
    aux signal, and the record decodes with both channels in their order; --channels still picks channels."""
    out = tmp_path / "m.vqc"
    done = run_cli("compress", ecg_and_bp, "-o", out, "--model", tiny_bundle)
    assert done.returncode == 0, done.stderr
    assert "model: ch0; without the model (lossless): ABP (360 Hz)" in done.stderr
    assert run_cli("decompress", out, "-o", tmp_path / "back", "--model", tiny_bundle).returncode == 0
    original, back = read(ecg_and_bp), read(tmp_path / "back")
    assert [ch.name for ch in back.channels] == ["ch0", "ABP"]
    np.testing.assert_array_equal(back.digital()[:, 1], original.digital()[:, 1])  # ABP exact
    assert run_cli("compress", ecg_and_bp, "-o", out, "--model", tiny_bundle, "--channels", "ch0",
                   "--force").returncode == 0
    assert run_cli("decompress", out, "-o", tmp_path / "one", "--model", tiny_bundle).returncode == 0
    assert [ch.name for ch in read(tmp_path / "one").channels] == ["ch0"]
    assert run_cli("compress", ecg_and_bp, "-o", tmp_path / "l.vqc", "--lossless").returncode == 0  # every channel
    assert_clean_failure(run_cli("compress", ecg_and_bp, "-o", out, "--force", "--channels", "V9"), "no channel 'V9'")


def test_info_shows_the_header_of_a_damaged_file_and_says_it_is_damaged(record, tiny_bundle, tmp_path):
    out = tmp_path / "d.vqc"
    assert run_cli("compress", record, "-o", out, "--model", tiny_bundle).returncode == 0
    data = bytearray(out.read_bytes())
    data[data.index(b"BLKS") + 20] ^= 0x01  # one bit inside the coded blocks
    out.write_bytes(bytes(data))
    proc = run_cli("info", out)
    assert_clean_failure(proc, out)
    assert "BLKS CRC mismatch" in proc.stderr and "--salvage" in proc.stderr and "tiny-test" in proc.stdout


def test_a_non_ecg_channel_chosen_alone_is_coded_without_the_model(ecg_and_bp, tiny_bundle, tmp_path):
    """The channel policy lives in the codec (the API routes the same channels): ABP alone goes to no model, at any
    setting; --max-error bounds it."""
    out = tmp_path / "bp.vqc"
    done = run_cli("compress", ecg_and_bp, "-o", out, "--model", tiny_bundle, "--channels", "ABP", "-e", "6")
    assert done.returncode == 0, done.stderr
    info = run_cli("info", out)
    assert "no model layer" in info.stdout and "|error| <= 6" in info.stdout
    assert run_cli("compress", ecg_and_bp, "-o", out, "--channels", "ABP", "-e", "3", "--force").returncode == 0


def test_an_output_folder_is_written_into_and_missing_folders_are_made(record, tiny_bundle, tmp_path):
    """`-o o3/` (a path ending in /) and `-o existing_folder` write <name> inside; `-o out/new/rec` makes out/new."""
    proc = run_cli("compress", record, "-o", f"{tmp_path / 'o3'}/", "--model", tiny_bundle)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "o3" / "rec.vqc").is_file()
    (tmp_path / "there").mkdir()
    assert run_cli("compress", record, "-o", tmp_path / "there", "--model", tiny_bundle).returncode == 0
    assert [p.name for p in (tmp_path / "there").iterdir()] == ["rec.vqc"]
    vqc_file = tmp_path / "o3" / "rec.vqc"
    proc = run_cli("decompress", vqc_file, "-o", f"{tmp_path / 'o2'}/", "--model", tiny_bundle)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in (tmp_path / "o2").iterdir()) == ["rec.dat", "rec.hea"]
    assert not (tmp_path / "o2.hea").exists()
    proc = run_cli("decompress", vqc_file, "-o", tmp_path / "out" / "new" / "r", "--model", tiny_bundle)
    assert proc.returncode == 0, proc.stderr
    assert read(tmp_path / "out" / "new" / "r").n_samples == read(record).n_samples
    (tmp_path / "afile").write_bytes(b"")
    assert_clean_failure(run_cli("decompress", vqc_file, "-o", tmp_path / "afile" / "sub" / "r", "--model",
                                 tiny_bundle), "cannot create its folder")


def test_the_summary_gives_the_max_error_in_the_records_units_and_in_adc_units(record, tiny_bundle, tmp_path):
    proc = run_cli("compress", record, "-o", tmp_path / "e.vqc", "--model", tiny_bundle, "--max-error", "2")
    assert proc.returncode == 0, proc.stderr
    physical, adc = proc.stderr.split("max error ")[1].split(" mV = ")
    adc_units = float(adc.split(" ADC unit")[0])
    assert adc_units <= 2 and float(physical) == pytest.approx(adc_units / 200.0, abs=1e-4)  # gain 200 per mV


def test_help_gives_the_quality_ranges_of_the_installed_bundles():
    from vqcodec.midi.codec import NoteCodec
    from vqcodec.models.bundle import load_bundle

    ecg, midi = load_bundle("ecg"), NoteCodec.load("midi")
    levels = sorted(map(int, ecg.manifest["qualities"]))
    expected = [f"{levels[0]}-{levels[-1]} for {ecg.name} (default {ecg.manifest['default_quality']})",
                f"{midi.qualities[0]}-{midi.qualities[-1]} for {midi.name} (default {midi.default_quality})"]
    for command in ("compress", "bench"):
        proc = run_cli(command, "--help")
        assert proc.returncode == 0, proc.stderr
        text = " ".join(proc.stdout.split())  # click wraps the help text
        assert all(e in text for e in expected), text


def test_npy_and_channels_are_read_and_written_in_windows_to_the_whole_paths_bytes(tiny_bundle, tmp_path):
    """A .npy (memory-mapped) and a WFDB record with --channels take the windowed path; their files equal what the
    whole-record API writes, and a .npy decoded window by window equals the whole decode."""
    from vqcodec.ecg.codec import Codec
    from vqcodec.io.array import read_array

    codec = Codec.load(tiny_bundle)
    sig = make_signal(codec.block_samples * 2 + 123, channels=3, seed=5)
    np.save(tmp_path / "arr.npy", sig.samples)
    assert run_cli("compress", tmp_path / "arr.npy", "--fs", codec.fs, "-o", tmp_path / "a.vqc", "--model",
                   tiny_bundle).returncode == 0
    whole = codec.compress(read_array(tmp_path / "arr.npy", fs=codec.fs), None,
                           (tmp_path / "arr.npy").stat().st_size).data  # the CLI counts the input file's bytes
    assert (tmp_path / "a.vqc").read_bytes() == whole
    proc = run_cli("decompress", tmp_path / "a.vqc", "-o", tmp_path / "b.npy", "--model", tiny_bundle)
    assert proc.returncode == 0, proc.stderr
    np.testing.assert_array_equal(np.load(tmp_path / "b.npy"), codec.decompress(whole).samples)

    write(tmp_path / "rec", sig)
    proc = run_cli("compress", tmp_path / "rec.hea", "--channels", "2,0", "-o", tmp_path / "c.vqc", "--model",
                   tiny_bundle)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "c.vqc").read_bytes() == codec.compress(read(tmp_path / "rec").select([2, 0])).data

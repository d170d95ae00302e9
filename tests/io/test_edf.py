"""EDF and BDF in and out (vqcodec.io.edf, the eDFH and eDFA sections, `compress`/`decompress` of .edf and .bdf):
real records written by pyedflib, round trips through the CLI and the API, and each kind of bad input."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import vqcodec
from tests.helpers.cli import Runner, assert_fails_cleanly
from tests.helpers.edf import PATIENT, header_field, make_edf, make_ludb_edf
from vqcodec.container import format as vqc
from vqcodec.ecg import file as ecg_file
from vqcodec.errors import EdfError, FormatError, InputError
from vqcodec.io.edf import (
    UNKNOWN_PATIENT,
    UNKNOWN_RECORDING,
    anonymized,
    digital_signals,
    edf_bytes,
    read_edf,
    read_edf_file,
)

pyedflib = pytest.importorskip("pyedflib")


@pytest.fixture(scope="module")
def edf_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("edf")


@pytest.fixture(scope="module")
def mitdb_edf(edf_dir: Path, data_dir: Path) -> Path:
    """MIT-BIH 100's two leads at 360 Hz, respiration at 25 Hz, blood pressure at 120 Hz, three annotations."""
    return make_edf(edf_dir / "100.edf", data_dir)


@pytest.fixture(scope="module")
def mitdb_bdf(edf_dir: Path, data_dir: Path) -> Path:
    """The same as a BDF+ file, its samples scaled beyond 16 bits."""
    return make_edf(edf_dir / "100.bdf", data_dir, bdf=True)


def _headers(path: Path) -> tuple[list[dict], list, str, str, object]:
    """What pyedflib reads of a file's fields: signal headers, annotations, patient and recording, start."""
    r = pyedflib.EdfReader(str(path))
    try:
        notes = [list(a) for a in r.readAnnotations()]
        return (r.getSignalHeaders(), [[str(x) for x in a] for a in notes], r.getPatientCode(), r.getEquipment(),
                r.getStartdatetime())
    finally:
        r.close()


def _digital(path: Path) -> list[np.ndarray]:
    r = pyedflib.EdfReader(str(path))
    try:
        return [r.readSignal(i, digital=True).astype(np.int64) for i in range(r.signals_in_file)]
    finally:
        r.close()


# ------------------------------------------------------------------ reading


def test_an_edf_file_reads_its_ecg_for_the_model_and_every_other_signal_at_its_own_rate(mitdb_edf: Path,
                                                                                          data_dir: Path) -> None:
    signal, f = read_edf(mitdb_edf)
    assert [ch.name for ch in signal.channels] == ["ECG MLII", "ECG V5"] and signal.fs == 360
    assert [(a.position, a.channel.name, a.fs, a.n_samples) for a in signal.aux] == [
        (2, "Resp chest", 25.0, 500), (3, "BP finger", 120.0, 2400)]
    mitdb = vqcodec.read(data_dir / "ecg" / "mitdb" / "100").digital()[:7200]
    np.testing.assert_array_equal(signal.digital(), mitdb)  # exact ADC values through EDF's physical mapping
    assert [d.tolist() for d in digital_signals(signal)] == [d.tolist() for d in _digital(mitdb_edf)]
    assert edf_bytes(f.header.raw, digital_signals(signal), f.annotations, "x") == mitdb_edf.read_bytes()
    assert f.header.plus and signal.base_date is not None


# ------------------------------------------------------------------ round trips


def test_a_lossless_edf_round_trip_through_the_cli_gives_the_file_byte_for_byte(cli: Runner, mitdb_edf: Path,
                                                                                 tiny_bundle: Path,
                                                                                 tmp_path: Path) -> None:
    packed, back = tmp_path / "100.vqc", tmp_path / "back.edf"
    done = cli("compress", mitdb_edf, "-o", packed, "--lossless", "--model", tiny_bundle)
    assert done.code == 0, done.stderr
    assert "Resp chest (25 Hz), BP finger (120 Hz)" in done.stderr and "lossless" in done.stderr
    assert packed.read_bytes()[10] == ecg_file.AUX_BLOCKS_MINOR  # its residual layer in blocks, and AUXB
    assert cli("decompress", packed, "-o", back, "--model", tiny_bundle).code == 0
    assert back.read_bytes() == mitdb_edf.read_bytes()
    info = cli("info", packed)
    assert "aux signal:  Resp chest" in info.stdout and "EDF:" in info.stdout


def test_the_default_output_of_an_edf_file_is_an_edf_file_named_after_the_record(cli: Runner, mitdb_edf: Path,
                                                                                tiny_bundle: Path,
                                                                                tmp_path: Path) -> None:
    packed = tmp_path / "100.vqc"
    assert cli("compress", mitdb_edf, "-o", packed, "--lossless", "--model", tiny_bundle).code == 0
    assert cli("decompress", packed, "-o", f"{tmp_path / 'out'}/", "--model", tiny_bundle).code == 0
    assert (tmp_path / "out" / "100.edf").read_bytes() == mitdb_edf.read_bytes()


def test_a_lossy_edf_keeps_every_field_and_the_other_signals_exactly(cli: Runner, mitdb_edf: Path,
                                                                     tiny_bundle: Path, tmp_path: Path) -> None:
    packed, back = tmp_path / "q.vqc", tmp_path / "q.edf"
    done = cli("compress", mitdb_edf, "-o", packed, "--model", tiny_bundle)
    assert done.code == 0, done.stderr
    assert "model: ECG MLII, ECG V5; without the model (lossless): Resp chest" in done.stderr
    assert cli("decompress", packed, "-o", back, "--model", tiny_bundle).code == 0
    assert _headers(back) == _headers(mitdb_edf)  # labels, dimensions, ranges, transducers, rates, notes, start
    assert len(back.read_bytes()) == len(mitdb_edf.read_bytes())
    original, decoded = _digital(mitdb_edf), _digital(back)
    for k in (2, 3):  # respiration and blood pressure: exact
        np.testing.assert_array_equal(decoded[k], original[k])
    assert 0 < max(np.abs(decoded[k] - original[k]).max() for k in (0, 1)) < 2000  # ECG: the (tiny) model's
    checked = cli("verify", packed, "--model", tiny_bundle, "--against", mitdb_edf)
    assert checked.code == 0 and f"matches {mitdb_edf}" in checked.stdout, checked.stderr


@pytest.mark.parametrize("fixture", ["mitdb_edf", "mitdb_bdf"])
def test_an_edf_file_read_in_windows_compresses_to_the_whole_files_bytes_and_decodes_to_its_edf_file(
        fixture: str, request: pytest.FixtureRequest, tiny_bundle: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """compress_edf reads data records in windows (EdfSource) and decompress to .edf writes them in windows
    (EdfWriter): the bytes the file read whole gives, whatever the window, and the EDF file a whole decode writes."""
    from vqcodec.ecg.codec import Codec
    from vqcodec.io.edf import EdfSource, write_edf

    path: Path = request.getfixturevalue(fixture)
    monkeypatch.setattr(ecg_file, "AUX_BLOCK_SAMPLES", 300)  # Resp chest in 2 aux blocks, BP finger in 8
    codec = Codec.load(tiny_bundle, threads=1)
    signal, f = read_edf(path)
    source, size = EdfSource(path), path.stat().st_size
    assert source.annotations() == f.annotations and source.n_samples == signal.n_samples
    np.testing.assert_array_equal(source.read(100, 5000), signal.samples[100:5000])
    for max_error in (None, 0, 5):
        whole = codec.compress(signal, None, size, max_error=max_error).data
        for window in (256, None):
            got = codec.compress_source(source, None, size, window=window, max_error=max_error, aux=source.aux)
            assert got.data == whole, (max_error, window)
        data = vqcodec.compress_edf(path, codec, max_error=max_error).data
        assert data == ecg_file.with_edf_files(whole, f.header.raw, f.annotations)
        parsed = vqc.loads(data)
        assert codec.streams(parsed) and [len(a.blocks or []) for a in parsed.aux] == [2, 8]
        written = vqcodec.decompress_edf(data, tmp_path / f"w{max_error}{path.suffix}", codec)[0]
        write_edf(tmp_path / f"whole{max_error}{path.suffix}", codec.decode_file(parsed), f.header.raw,
                  f.annotations)
        assert written.read_bytes() == (tmp_path / f"whole{max_error}{path.suffix}").read_bytes()
        if max_error == 0:
            assert written.read_bytes() == path.read_bytes()


def test_an_edf_file_without_ecg_codes_its_first_rate_group_without_the_model_in_windows(
        mitdb_edf: Path, tiny_bundle: Path, tmp_path: Path) -> None:
    """With no ECG signal, the signals at the first one's rate are the main group (stream.Stacked), coded without the
    model, the others aux signals: the bytes of the file read whole, and the EDF file back byte for byte."""
    from vqcodec.ecg.codec import Codec
    from vqcodec.io.edf import EdfSource

    raw = bytearray(mitdb_edf.read_bytes())
    for i, label in enumerate((b"PPG A", b"PPG B")):  # the two leads' labels (16 bytes each, after the fixed part)
        raw[256 + 16 * i : 256 + 16 * (i + 1)] = label.ljust(16)
    path = tmp_path / "ppg.edf"
    path.write_bytes(bytes(raw))
    codec = Codec.load(tiny_bundle, threads=1)
    signal, f = read_edf(path)
    source = EdfSource(path)
    assert not source.channels and not signal.n_channels and len(source.aux) == 4
    whole = codec.compress(signal, None, path.stat().st_size).data
    assert codec.compress_source(source, None, path.stat().st_size, window=256, aux=source.aux).data == whole
    parsed = vqc.loads(whole)
    assert parsed.header.n_stages == 0 and [a.channel.name for a in parsed.meta.aux] == ["Resp chest", "BP finger"]
    data = vqcodec.compress_edf(path, codec).data
    assert vqcodec.decompress_edf(data, tmp_path / "back.edf", codec)[0].read_bytes() == path.read_bytes()


def test_max_prdn_of_an_edf_file_in_windows_picks_the_whole_files_setting_and_bytes(mitdb_edf: Path,
                                                                                 tiny_bundle: Path) -> None:
    from vqcodec.ecg.codec import Codec

    codec = Codec.load(tiny_bundle, threads=1)
    signal, f = read_edf(mitdb_edf)
    size = mitdb_edf.stat().st_size
    target = codec.compress(signal, 2, size).report.worst_prdn
    want = codec.compress_to_prdn(signal, target, size)
    data = vqcodec.compress_edf(mitdb_edf, codec, max_prdn=target).data
    assert data == ecg_file.with_edf_files(want.data, f.header.raw, f.annotations)
    assert [a.max_error for a in vqc.loads(data).meta.aux] == [0, 0]  # the other signals lossless, as before


def test_max_error_bounds_every_signal_of_an_edf_file(mitdb_edf: Path, tiny_bundle: Path, tmp_path: Path) -> None:
    data = vqcodec.compress_edf(mitdb_edf, tiny_bundle, max_error=5).data
    assert vqcodec.decompress_edf(data, tmp_path / "e.edf", tiny_bundle) == [tmp_path / "e.edf"]
    for a, b in zip(_digital(mitdb_edf), _digital(tmp_path / "e.edf")):
        assert np.abs(a - b).max() <= 5


def test_a_bdf_file_stays_24_bit_through_the_api(mitdb_bdf: Path, tiny_bundle: Path, tmp_path: Path) -> None:
    original = _digital(mitdb_bdf)
    assert max(np.abs(d).max() for d in original) > 1 << 15  # the samples need more than 16 bits
    lossless = vqcodec.compress_edf(mitdb_bdf, tiny_bundle, max_error=0).data
    vqcodec.decompress_edf(lossless, tmp_path / "l.bdf", tiny_bundle)
    assert (tmp_path / "l.bdf").read_bytes() == mitdb_bdf.read_bytes()
    lossy = vqcodec.compress_edf(mitdb_bdf, tiny_bundle).data
    vqcodec.decompress_edf(lossy, tmp_path / "q.bdf", tiny_bundle)
    r = pyedflib.EdfReader(str(tmp_path / "q.bdf"))
    try:
        assert r.filetype == pyedflib.FILETYPE_BDFPLUS
    finally:
        r.close()
    decoded = _digital(tmp_path / "q.bdf")
    assert max(np.abs(d).max() for d in decoded[:2]) > 1 << 15
    np.testing.assert_array_equal(decoded[2], original[2])
    with pytest.raises(InputError, match=r"holds a BDF file; name the output \.bdf"):
        vqcodec.decompress_edf(lossy, tmp_path / "q.edf", tiny_bundle)


def test_anonymize_blanks_the_patient_and_recording_fields_as_edf_plus_writes_unknown_ones(
        cli: Runner, mitdb_edf: Path, tiny_bundle: Path, tmp_path: Path) -> None:
    raw = mitdb_edf.read_bytes()
    assert PATIENT.split()[0].encode() in raw[8:88]
    packed, back = tmp_path / "a.vqc", tmp_path / "a.edf"
    assert cli("compress", mitdb_edf, "-o", packed, "--lossless", "--anonymize", "--model", tiny_bundle).code == 0
    assert b"MCH-0234567" not in packed.read_bytes() and b"Haagse" not in packed.read_bytes()
    assert cli("decompress", packed, "-o", back, "--model", tiny_bundle).code == 0
    out = back.read_bytes()
    assert out[8:88] == UNKNOWN_PATIENT.encode().ljust(80) and out[88:168] == UNKNOWN_RECORDING.encode().ljust(80)
    assert out[:8] + out[168:] == raw[:8] + raw[168:]  # every other byte the original's
    assert _headers(back)[0] == _headers(mitdb_edf)[0]  # pyedflib reads it, its signals unchanged
    kept = tmp_path / "kept.vqc"  # a file that keeps the identification, anonymized when it is written out
    assert cli("compress", mitdb_edf, "-o", kept, "--lossless", "--model", tiny_bundle).code == 0
    assert b"MCH-0234567" in ecg_file.loads(kept.read_bytes()).edf_header  # type: ignore[operator]
    assert cli("decompress", kept, "-o", tmp_path / "b.edf", "--anonymize", "--model", tiny_bundle).code == 0
    assert (tmp_path / "b.edf").read_bytes() == out


def test_a_ludb_record_with_lead_names_only_goes_through_the_model_whole(cli: Runner, data_dir: Path,
                                                                          tiny_bundle: Path, tmp_path: Path) -> None:
    ludb = make_ludb_edf(tmp_path / "ludb1.edf", data_dir)
    signal, _ = read_edf(ludb)
    assert signal.n_channels == 12 and not signal.aux and signal.fs == 500
    done = cli("compress", ludb, "-o", tmp_path / "l.vqc", "--lossless", "--model", tiny_bundle)
    assert done.code == 0, done.stderr
    assert cli("decompress", tmp_path / "l.vqc", "-o", tmp_path / "back.edf", "--model", tiny_bundle).code == 0
    assert (tmp_path / "back.edf").read_bytes() == ludb.read_bytes()
    assert cli("compress", ludb, "-o", tmp_path / "q.vqc", "--model", tiny_bundle).code == 0
    assert vqcodec.info(tmp_path / "q.vqc").quality > 0


def test_a_wfdb_output_of_an_edf_file_with_other_rates_is_refused_in_one_line(cli: Runner, mitdb_edf: Path,
                                                                             tiny_bundle: Path,
                                                                             tmp_path: Path) -> None:
    packed, out = tmp_path / "x.vqc", tmp_path / "w"
    out.mkdir()
    assert cli("compress", mitdb_edf, "-o", packed, "--lossless", "--model", tiny_bundle).code == 0
    line = assert_fails_cleanly(lambda: cli("decompress", packed, "-o", out / "rec.hea", "--model", tiny_bundle),
                                "rec.hea", out)
    assert "Resp chest 25 Hz" in line and ".edf" in line


# ------------------------------------------------------------------ the format's rules, and files before 1.10


def test_a_reader_before_1_14_refuses_aux_signals_and_skips_the_edf_sections(mitdb_edf: Path, tiny_bundle: Path,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """AUXB (as AUXS before it) is critical (a reader that does not know it must not decode the file without those
    signals); eDFH and eDFA are ancillary (the signals decode without them)."""
    from tests.helpers.signals import make_signal

    with_aux = vqcodec.compress_edf(mitdb_edf, tiny_bundle).data
    plain = vqcodec.compress(make_signal(3000), tiny_bundle)
    with_edf = ecg_file.with_edf_files(plain, read_edf_file(mitdb_edf).header.raw)
    for tag in (ecg_file.TAG_AUXB, ecg_file.TAG_EDFH, ecg_file.TAG_EDFA):
        monkeypatch.delitem(vqc.SECTION_TYPES, tag)  # as a release that does not know them
    with pytest.raises(FormatError, match="x.vqc: unsupported feature AUXB"):
        vqc.read(with_aux, "x.vqc", warn=False)
    with pytest.warns(UserWarning, match="skipping unknown ancillary section eDFH"):
        c = vqc.read(with_edf, "y.vqc")
    assert ecg_file.TAG_EDFH in c.extra


def test_a_file_without_aux_signals_or_edf_sections_keeps_its_earlier_minor(tiny_bundle: Path) -> None:
    from tests.helpers.signals import make_signal

    data = vqcodec.compress(make_signal(3000), tiny_bundle)
    assert data[10] < ecg_file.AUX_MINOR


# ------------------------------------------------------------------ bad input


def _bad(tmp_path: Path, source: Path, edit: bytes) -> Path:
    bad = tmp_path / "bad" / source.name
    bad.parent.mkdir(exist_ok=True)
    bad.write_bytes(edit)
    return bad


@pytest.mark.parametrize(("case", "said"), [
    ("header length", "header length field says 1000 bytes, and 5 signals make a header of 1536"),
    ("truncated record", "truncated: the header says 20 data records"),
    ("non-ascii", "holds byte 0xe9 at offset"),
    ("bytes after", "bytes after the last of its 20 data records"),
    ("open count truncated", "truncated data record: the header leaves the record count open (-1)"),
    ("not a number", "header field record duration is 'one', not a number"),
    ("version", "not an EDF or BDF file"),
])
def test_a_broken_edf_file_is_refused_in_one_line_naming_it(cli: Runner, mitdb_edf: Path, tiny_bundle: Path,
                                                             tmp_path: Path, case: str, said: str) -> None:
    raw = mitdb_edf.read_bytes()
    edits = {
        "header length": header_field(raw, 184, 8, "1000"),
        "truncated record": raw[:-7],
        "non-ascii": header_field(raw, 8, 80, "Jos\xe9"),
        "bytes after": raw + b"\0" * 10,
        "open count truncated": header_field(raw, 236, 8, "-1")[:-7],
        "not a number": header_field(raw, 244, 8, "one"),
        "version": b"1" + raw[1:],
    }
    bad = _bad(tmp_path, mitdb_edf, edits[case])
    with pytest.raises(EdfError, match=re.escape(said)):
        read_edf_file(bad)
    out = tmp_path / "out"
    out.mkdir()
    line = assert_fails_cleanly(lambda: cli("compress", bad, "-o", out / "x.vqc", "--model", tiny_bundle), bad, out)
    assert said in line


def test_a_record_count_of_minus_one_is_counted_from_the_file_size_and_kept(cli: Runner, mitdb_edf: Path,
                                                                           tiny_bundle: Path,
                                                                           tmp_path: Path) -> None:
    """An interrupted recording (count -1): its whole records are read, and the header comes back with its -1."""
    open_count = _bad(tmp_path, mitdb_edf, header_field(mitdb_edf.read_bytes(), 236, 8, "-1"))
    assert read_edf_file(open_count).n_records == 20
    assert cli("compress", open_count, "-o", tmp_path / "o.vqc", "--lossless", "--model", tiny_bundle).code == 0
    assert cli("decompress", tmp_path / "o.vqc", "-o", tmp_path / "o.edf", "--model", tiny_bundle).code == 0
    assert (tmp_path / "o.edf").read_bytes() == open_count.read_bytes()


def test_anonymize_and_edf_only_options_are_refused_for_other_inputs(cli: Runner, mitdb_edf: Path,
                                                                     tmp_path: Path) -> None:
    from tests.helpers.signals import make_signal

    vqcodec.write(tmp_path / "rec", make_signal(1000))
    assert cli("compress", tmp_path / "rec", "--anonymize").code == 2  # a usage error
    assert cli("compress", mitdb_edf, "--channels", "0").code == 2
    with pytest.raises(InputError, match="written from a .vqc file that keeps its EDF header"):
        vqcodec.write(tmp_path / "x.edf", make_signal(100))
    assert anonymized(mitdb_edf.read_bytes()[:1792])[8:15] == b"X X X X"

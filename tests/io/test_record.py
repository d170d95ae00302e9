"""vqcodec.rdrecord (vqcodec.io.record): a .vqc file read as the wfdb.Record that wfdb.rdrecord gives for the
original record, field by field, on real MIT-BIH records and on small records wfdb writes here."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import wfdb
from wfdb import processing

import vqcodec
from tests.helpers.notes import random_performance
from tests.helpers.records import field_differences, mitdb_path
from tests.helpers.signals import make_signal
from vqcodec.errors import InputError
from vqcodec.io.wfdb import CHECKSUM_MODULUS

LOSSY_SAMPLES = 5 * 60 * 360
"""The first 5 minutes of MIT-BIH 100 make the lossy file (the shipped model at its default level)."""
LOSSY_SPAN = {"sampfrom": 36000, "sampto": 72000}
QRS_MATCH_S = 0.05
"""A QRS found in the decoded record matches one found in the original within this many seconds."""
RECOMPUTED = {"checksum", "init_value"}
"""The fields that describe the samples returned: for a lossy file, its decoded samples, not the original's."""


@pytest.fixture(scope="module")
def lossless_100(data_dir: Path, codec: vqcodec.Codec, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """MIT-BIH 100, whole, as a lossless .vqc file (the residual layer alone: the tiny model's id, no model run)."""
    path = tmp_path_factory.mktemp("rdrecord") / "100.vqc"
    path.write_bytes(vqcodec.compress(vqcodec.read(mitdb_path(data_dir)), codec, max_error=0))
    return path


@pytest.fixture(scope="module")
def lossy_100(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first LOSSY_SAMPLES of MIT-BIH 100 through the shipped model at its default level."""
    sig = vqcodec.read(mitdb_path(data_dir))
    assert isinstance(sig, vqcodec.Signal)
    cut = vqcodec.Signal(sig.samples[:LOSSY_SAMPLES], sig.fs, sig.channels, sig.record_name, sig.comments)
    path = tmp_path_factory.mktemp("rdrecord") / "100_q.vqc"
    path.write_bytes(vqcodec.compress(cut))
    return path


@pytest.mark.parametrize("span", [{}, {"sampfrom": 1000, "sampto": 5000, "channels": [1]},
                                  {"sampfrom": 360000, "channels": [1, 0], "physical": False}],
                         ids=["whole", "span-one-channel", "to-end-reordered-digital"])
def test_a_lossless_file_reads_as_wfdb_reads_the_original(lossless_100: Path, data_dir: Path,
                                                         codec: vqcodec.Codec, span: dict) -> None:
    expected = wfdb.rdrecord(str(mitdb_path(data_dir)), **span)
    got = vqcodec.rdrecord(lossless_100, model=codec, **span)
    assert field_differences(expected, got) == {}  # every field, with its type; the samples exactly
    assert got.record_name == "100" and got.fs == 360 and got.fmt[0] == "212"
    if not span:
        assert got.checksum == [-22131, 20052]  # as the original header writes them (signed 16-bit)


def test_a_lossy_file_has_the_fields_and_close_samples(lossy_100: Path, data_dir: Path) -> None:
    expected = wfdb.rdrecord(str(mitdb_path(data_dir)), **LOSSY_SPAN)
    got = vqcodec.rdrecord(lossy_100, **LOSSY_SPAN)
    differ = field_differences(expected, got)
    assert set(differ) == RECOMPUTED | {"p_signal"}
    assert got.checksum == [int(s) for s in wfdb.Record(d_signal=got.adc(), n_sig=2).calc_checksum()]
    assert got.p_signal.dtype == np.float64 and got.p_signal.shape == expected.p_signal.shape
    stored = vqcodec.info(lossy_100).metrics["channels"]  # what the file says it lost, in mV, per channel
    for c in range(2):
        err = np.abs(got.p_signal[:, c] - expected.p_signal[:, c])
        assert 0 < err.max() <= stored[c]["max_err"] + 1e-9
        assert np.sqrt(np.mean(err**2)) < 0.05  # mV


def test_xqrs_runs_on_the_result_unchanged_and_finds_the_same_beats(lossy_100: Path, data_dir: Path) -> None:
    original = wfdb.rdrecord(str(mitdb_path(data_dir)), **LOSSY_SPAN)
    decoded = vqcodec.rdrecord(lossy_100, **LOSSY_SPAN)
    want = processing.xqrs_detect(original.p_signal[:, 0], fs=original.fs, verbose=False)
    got = processing.xqrs_detect(decoded.p_signal[:, 0], fs=decoded.fs, verbose=False)
    assert len(want) > 100
    nearest = np.abs(got[None, :] - want[:, None]).min(axis=1)
    assert np.mean(nearest <= QRS_MATCH_S * original.fs) >= 0.99 and abs(len(got) - len(want)) <= 1


@pytest.mark.parametrize(("base_time", "base_date", "sampfrom"), [("10:30:15", "2001-02-03", 720),
                                                                   ("23:59:59", "2001-12-31", 1800),
                                                                   ("23:59:59", None, 1800), (None, None, 5)])
def test_invalid_samples_and_the_moved_base_time_match_wfdb(tmp_path: Path, codec: vqcodec.Codec,
                                                            base_time: str | None, base_date: str | None,
                                                            sampfrom: int) -> None:
    sig = make_signal(3000, 2)
    sig.samples[100:140, 0] = sig.samples[2990:, 1] = np.nan  # invalid runs, one at the end
    sig.base_time, sig.base_date, sig.comments = base_time, base_date, ["a comment"]
    vqcodec.write(tmp_path / "rec", sig)
    path = tmp_path / "rec.vqc"
    path.write_bytes(vqcodec.compress(vqcodec.read(tmp_path / "rec"), codec, max_error=0))
    span = {"sampfrom": sampfrom, "sampto": 2995}
    expected = wfdb.rdrecord(str(tmp_path / "rec"), **span)
    got = vqcodec.rdrecord(path, model=codec, **span)
    assert field_differences(expected, got) == {}
    assert np.isnan(got.p_signal[-5:, 1]).all()
    assert np.isnan(got.p_signal[:, 0]).sum() == max(0, 140 - max(sampfrom, 100))
    whole = field_differences(wfdb.rdrecord(str(tmp_path / "rec")), vqcodec.rdrecord(path, model=codec))
    assert set(whole) <= {"checksum"}  # wfdb-python writes checksums unsigned, WFDB's own headers signed
    for a, b in zip(*whole.get("checksum", ([], []))):  # type: ignore[call-overload]
        assert (a - b) % CHECKSUM_MODULUS == 0


@pytest.mark.parametrize(("span", "words"), [
    ({"sampto": 3001}, r"samples 0\.\.3001 are not a span of the record's 3000"),
    ({"sampfrom": 10, "sampto": 10}, r"samples 10\.\.10 are not a span"),
    ({"sampfrom": -1}, "not a span"),
    ({"sampfrom": 1.5}, "sampfrom must be a whole number of samples"),
    ({"channels": [2]}, r"channel 2 is not one of the record's 2 channels \(0\.\.1\)"),
    ({"channels": []}, "channels must be a non-empty list"),
    ({"channels": "MLII"}, "channels must be a non-empty list"),
])
def test_a_bad_span_or_channel_is_an_input_error_naming_the_file(tmp_path: Path, codec: vqcodec.Codec, span: dict,
                                                                 words: str) -> None:
    path = tmp_path / "rec.vqc"
    path.write_bytes(vqcodec.compress(make_signal(3000, 2), codec, max_error=0))
    with pytest.raises(InputError, match=words) as e:
        vqcodec.rdrecord(path, model=codec, **span)
    assert str(e.value).startswith(str(path))


def test_a_midi_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "piece.vqc"
    path.write_bytes(vqcodec.compress(random_performance(40, pedals=False)))
    with pytest.raises(InputError, match="holds a midi file; rdrecord reads ECG records"):
        vqcodec.rdrecord(path)

"""The shipped ECG model on real records (skips without VQCODEC_DATA or before a model is shipped)."""

from __future__ import annotations

import numpy as np
import pytest

import vqcodec
from vqcodec.metrics import compare
from vqcodec.models.bundle import ALIASES, installed_models

pytestmark = pytest.mark.skipif(ALIASES["ecg"] not in installed_models(), reason="the default ECG model is not shipped")

WORST_ACCEPTABLE_PRDN = 15.0
"""A sanity bound for the default level on one record, far above the measured means (README)."""


@pytest.fixture(scope="module")
def codec() -> vqcodec.Codec:
    return vqcodec.Codec.load("ecg")


def _key(sig: vqcodec.Signal) -> list[tuple]:
    return [(c.name, c.units, c.gain, c.baseline, c.fmt, c.adc_res) for c in sig.channels]


def test_a_whole_mitdb_record_round_trips_with_its_metadata(codec, data_dir, tmp_path):
    sig = vqcodec.read(data_dir / "ecg" / "mitdb" / "100.hea")
    data, report = codec.compress(sig)
    (tmp_path / "100.vqc").write_bytes(data)
    out = vqcodec.decompress((tmp_path / "100.vqc").read_bytes())
    vqcodec.write(tmp_path / "100", out)
    back = vqcodec.read(tmp_path / "100")
    assert back.samples.shape == sig.samples.shape == (650000, 2)
    assert _key(back) == _key(sig)
    assert back.comments == sig.comments
    measured = compare(sig, back, len(data))
    assert measured.prdn == pytest.approx(report.prdn, rel=1e-3)
    assert measured.prdn < WORST_ACCEPTABLE_PRDN
    assert measured.cr > 5


def test_a_ludb_record_at_500_hz_with_12_leads_round_trips(codec, data_dir):
    sig = vqcodec.read(data_dir / "ecg" / "ludb" / "data" / "1")
    data, report = codec.compress(sig)
    out = vqcodec.decompress(data)
    assert out.fs == 500 and out.samples.shape == sig.samples.shape == (5000, 12)
    assert np.isfinite(report.prdn)


def test_info_reads_the_stored_metrics_without_the_model(codec, data_dir, tmp_path):
    sig = vqcodec.read(data_dir / "ecg" / "mitdb" / "100.hea")
    sig = vqcodec.Signal(sig.samples[:36000], sig.fs, sig.channels, "100")
    data, report = codec.compress(sig)
    (tmp_path / "x.vqc").write_bytes(data)
    info = vqcodec.info(tmp_path / "x.vqc")
    assert info.n_samples == 36000 and info.channels == ["MLII", "V5"]
    assert info.model_sha256 == codec.model_id
    assert [c["prdn"] for c in info.metrics["channels"]] == pytest.approx([c.prdn for c in report.channels])


def test_the_optional_faster_model_round_trips_a_record_and_reports_what_it_lost(data_dir):
    """ecg-v5 (picked with -m): its files name it, decode without naming it, and its report is what came back."""
    codec = vqcodec.Codec.load("ecg-v5")
    sig = vqcodec.read(data_dir / "ecg" / "mitdb" / "100.hea")
    sig = vqcodec.Signal(sig.samples[:108000], sig.fs, sig.channels, "100")
    data, report = codec.compress(sig)
    back = vqcodec.decompress(data)
    assert vqcodec.info(data).model_sha256 == codec.model_id != vqcodec.Codec.load("ecg").model_id
    measured = compare(sig, back, len(data))
    assert measured.prdn == pytest.approx(report.prdn, rel=1e-3)
    assert measured.prdn < WORST_ACCEPTABLE_PRDN

"""Signals the model is not for, coded by the residual layer alone in the same file (Codec.route, section AUXS):
channels of a WFDB record in other units, signals at other rates, and what the format refuses."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import vqcodec
from tests.helpers.records import mitdb_path
from tests.helpers.signals import make_signal
from vqcodec.container import format as vqc
from vqcodec.ecg import file as ecg_file
from vqcodec.ecg.codec import Codec
from vqcodec.ecg.signal import AuxChannel, ChannelInfo, Signal
from vqcodec.errors import ChecksumError, FormatError, InputError
from vqcodec.io.wfdb import read_wfdb, write_wfdb

BP = ChannelInfo("ABP", "mmHg", 100.0, 0, 16, 0, "16")
RESP = ChannelInfo("RESP", "l", 1000.0, 0, 16, 0, "16")


@pytest.fixture(scope="module")
def codec(tiny_bundle: Path) -> Codec:
    return Codec.load(tiny_bundle, threads=1)


def _mixed(n: int = 3000) -> Signal:
    """ch0 (ECG), ABP (mmHg, with a run of invalid samples), ch2 (ECG), and RESP at a quarter of the rate."""
    sig = make_signal(n, channels=3)
    sig.channels[1] = BP
    sig.samples[:, 1] = np.rint(100 * (90 + 30 * np.sin(np.arange(n) / 50))) / 100
    sig.samples[500:540, 1] = np.nan
    resp = np.rint(1000 * np.sin(np.arange(n // 4) / 30)) / 1000
    sig.aux = [AuxChannel(3, sig.fs / 4, RESP, resp)]
    return sig


@pytest.mark.parametrize("max_error", [None, 0, 2, 6])
def test_channels_the_model_is_not_for_are_aux_signals_within_the_bound(codec: Codec, max_error: int | None) -> None:
    sig = _mixed()
    data = codec.compress(sig, max_error=max_error).data
    f = ecg_file.loads(data)
    assert data[10] == ecg_file.AUX_BLOCKS_MINOR
    model_codes = max_error is None or max_error >= 4
    assert [a.channel.name for a in f.meta.aux] == (["ABP", "RESP"] if model_codes else ["RESP"])
    back = codec.decompress(data)
    assert [ch.name for ch in back.channels] == ["ch0", "ABP", "ch2"] and back.positions() == [0, 1, 2]
    assert [(a.position, a.fs, a.channel.name) for a in back.aux] == [(3, 90.0, "RESP")]
    bound = 0 if max_error is None else max_error
    np.testing.assert_array_equal(np.isnan(back.samples[:, 1]), np.isnan(sig.samples[:, 1]))
    valid = ~np.isnan(sig.samples[:, 1])
    assert np.abs(back.digital()[valid, 1] - sig.digital()[valid, 1]).max() <= bound
    assert np.abs(back.aux[0].digital() - sig.aux[0].digital()).max() <= bound


def test_a_record_with_no_channel_for_the_model_codes_without_it_at_any_setting(codec: Codec) -> None:
    sig = Signal(np.rint(np.sin(np.arange(2000) / 40) * 5000)[:, None] / 100, 250.0, [BP], "bp")
    for max_error in (None, 6):
        f = ecg_file.loads(codec.compress(sig, max_error=max_error).data)
        assert f.header.n_stages == 0 and f.meta.max_error == (0 if max_error is None else 6)
    only_aux = Signal(np.zeros((0, 0)), 100.0, [], "r", aux=[AuxChannel(0, 25.0, RESP, np.zeros(100))])
    back = codec.decompress(codec.compress(only_aux).data)
    assert [ch.name for ch in back.channels] == ["RESP"] and back.fs == 25.0 and not back.aux


def test_the_cheapest_setting_for_a_prdn_codes_the_aux_signals_lossless(codec: Codec) -> None:
    sig = _mixed()
    data, report, setting = codec.compress_to_prdn(sig, 30.0)
    back = codec.decompress(data)
    np.testing.assert_array_equal(back.aux[0].digital(), sig.aux[0].digital())
    assert report.aux_samples == 3000 + 750  # ABP and RESP count in the bits per sample


def test_a_signal_at_another_rate_fits_neither_a_wfdb_record_nor_an_array(codec: Codec, tmp_path: Path) -> None:
    back = codec.decompress(codec.compress(_mixed()).data)
    with pytest.raises(InputError, match="RESP 90 Hz"):
        vqcodec.write(tmp_path / "rec", back)
    with pytest.raises(InputError, match="RESP 90 Hz"):
        vqcodec.write(tmp_path / "rec.npy", back)


def test_a_damaged_or_inconsistent_aux_section_is_refused(codec: Codec) -> None:
    data = bytearray(codec.compress(_mixed()).data)
    at = bytes(data).index(b"AUXB") + 40
    data[at] ^= 0x10
    with pytest.raises(ChecksumError, match="section AUXB CRC mismatch"):
        ecg_file.loads(bytes(data), "d.vqc")
    f = ecg_file.loads(codec.compress(_mixed()).data)
    f.aux = f.aux[:1]
    with pytest.raises(ValueError, match="1 aux signals coded, the header lists 2"):
        ecg_file.dumps(f)
    header, sections = ecg_file._write(ecg_file.loads(codec.compress(_mixed()).data), vqc.ZSTD_LEVEL)
    forged = vqc.write(header, [(tag, payload) for tag, payload in sections if tag != ecg_file.TAG_AUXB])
    with pytest.raises(FormatError, match="lists 2 aux signals in blocks .aux_block. and section AUXB is missing"):
        ecg_file.loads(forged, "m.vqc")


def test_a_wfdb_record_of_mitdb_with_a_respiration_channel_round_trips_through_the_cli(
        cli, data_dir: Path, tiny_bundle: Path, tmp_path: Path) -> None:
    """MIT-BIH 100's two leads plus a respiration channel (litres, same rate): the leads through the model, the
    respiration exact; --lossless gives back the record's files."""
    sig = read_wfdb(mitdb_path(data_dir))
    n = 7200
    resp = np.rint(800 * np.sin(2 * np.pi * 0.25 * np.arange(n) / sig.fs)) / 1000
    mixed = Signal(np.column_stack([sig.samples[:n], resp]), sig.fs, sig.channels + [RESP], "mixed")
    write_wfdb(tmp_path / "mixed", mixed)
    done = cli("compress", tmp_path / "mixed", "-o", tmp_path / "m.vqc", "--model", tiny_bundle)
    assert done.code == 0, done.stderr
    assert "model: MLII, V5; without the model (lossless): RESP (360 Hz)" in done.stderr
    assert cli("decompress", tmp_path / "m.vqc", "-o", tmp_path / "back", "--model", tiny_bundle).code == 0
    back = read_wfdb(tmp_path / "back")
    assert [ch.name for ch in back.channels] == ["MLII", "V5", "RESP"]
    np.testing.assert_array_equal(back.digital()[:, 2], mixed.digital()[:, 2])
    assert cli("compress", tmp_path / "mixed", "-o", tmp_path / "l.vqc", "--lossless", "--model", tiny_bundle).code == 0
    assert cli("decompress", tmp_path / "l.vqc", "-o", tmp_path / "l", "--model", tiny_bundle).code == 0
    assert (tmp_path / "l.dat").read_bytes() == (tmp_path / "mixed.dat").read_bytes()

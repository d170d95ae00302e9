"""Signals the model is not for, coded by the residual layer alone in the same file (Codec.route, section AUXB, aux
block by aux block): channels of a WFDB record in other units, signals at other rates, read and decoded in windows and
by time range, and what the format refuses."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

import vqcodec
from tests.helpers.records import mitdb_path
from tests.helpers.signals import make_signal
from vqcodec.container import format as vqc
from vqcodec.ecg import file as ecg_file
from vqcodec.ecg import stream
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


# ------------------------------------------------------------------ aux blocks (AUXB, format 1.14)

AUX_BLOCK = 1000


@pytest.fixture
def small_aux_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Aux blocks short enough that a short record's aux signals hold several, the last one shorter."""
    monkeypatch.setattr(ecg_file, "AUX_BLOCK_SAMPLES", AUX_BLOCK)


def _long_mixed() -> Signal:
    """_mixed over 9000 samples (ABP in 9 aux blocks, RESP at a quarter of the rate in 3), with invalid runs across
    aux block edges and at the end."""
    sig = _mixed(9000)
    sig.samples[990:1010, 1] = np.nan
    resp = sig.aux[0].samples
    resp[995:1005] = np.nan
    resp[-3:] = np.nan
    return sig


def _aux_sources(sig: Signal) -> list[stream.AuxSource]:
    return [stream.AuxSource(a.position, a.fs, a.channel, a.n_samples, stream.array_reader(a.samples))
            for a in sig.aux]


@pytest.mark.parametrize("max_error", [None, 0, 5])
def test_aux_signals_read_in_windows_give_the_whole_records_bytes(codec: Codec, small_aux_blocks: None,
                                                                  max_error: int | None) -> None:
    sig = _long_mixed()
    whole = codec.compress(sig, max_error=max_error)
    for window in (256, None):
        got = codec.compress_source(stream.SignalSource(sig), window=window, max_error=max_error,
                                    aux=_aux_sources(sig))
        assert got.data == whole.data, window
        assert [vars(c) for c in got.report.channels] == [vars(c) for c in whole.report.channels]
    f = ecg_file.loads(whole.data)
    assert whole.data[10] == ecg_file.AUX_BLOCKS_MINOR and f.meta.aux_block == AUX_BLOCK
    assert [len(a.blocks or []) for a in f.aux] == [-(-i.n_samples // AUX_BLOCK) for i in f.meta.aux]
    back = codec.decompress(whole.data)
    bound = 0 if max_error is None else max_error
    resp = back.aux[0].samples
    np.testing.assert_array_equal(np.isnan(resp), np.isnan(sig.aux[0].samples))
    ok = ~np.isnan(resp)
    assert np.abs(back.aux[0].digital()[ok] - sig.aux[0].digital()[ok]).max() <= bound
    lines = "\n".join(vqcodec.info(whole.data).lines())
    said = "lossless" if not bound else f"|error| <= {bound} ADC units"
    assert f"RESP (l), 90 Hz, 2250 samples, signal 4: residual layer alone, {said}, in 3 blocks of {AUX_BLOCK} " \
        "samples, each coded alone" in lines


def test_aux_blocks_decode_in_windows_and_a_range_decodes_only_the_aux_blocks_it_overlaps(
        codec: Codec, small_aux_blocks: None, monkeypatch: pytest.MonkeyPatch) -> None:
    from vqcodec.ecg.codec import _cut

    sig = _long_mixed()
    decoded: list[tuple[str, int]] = []  # (aux signal, aux block) decoded
    real = stream.AuxReader._decode
    monkeypatch.setattr(stream.AuxReader, "_decode",
                        lambda self, b: decoded.append((self.info.channel.name, b)) or real(self, b))
    for max_error in (None, 5):  # the model layer alone; the residual layer in blocks around it
        data = codec.compress(sig, max_error=max_error).data
        f = ecg_file.loads(data)
        whole = codec.decompress(data)
        assert codec.streams(f)
        np.testing.assert_array_equal(np.concatenate(list(codec.decode_windows(f, window=700))), whole.samples)
        n = sig.n_samples
        for a, b in [(0, 10), (990, 1010), (999, 1001), (1000, 2000), (3996, 4004), (3999, 4001), (4000, 8000),
                     (n - 5, n), (7, 7), (0, n)]:
            decoded.clear()
            part, cut = codec.decode_range(f, a, b), _cut(whole, a, b)
            assert [ch.name for ch in part.channels] == ["ch0", "ABP", "ch2"]
            np.testing.assert_array_equal(part.samples, cut.samples)
            assert [(x.position, x.fs) for x in part.aux] == [(3, 90.0)]
            np.testing.assert_array_equal(part.aux[0].samples, cut.aux[0].samples)
            r0, r1 = round(a / 4), round(b / 4)
            want = {("ABP", k) for k in range(a // AUX_BLOCK, -(-b // AUX_BLOCK)) if b > a}
            want |= {("RESP", k) for k in range(r0 // AUX_BLOCK, -(-r1 // AUX_BLOCK)) if r1 > r0}
            assert set(decoded) == want, (a, b)


def test_a_wfdb_record_with_a_channel_the_model_does_not_take_compresses_in_windows_to_the_whole_ones_file(
        codec: Codec, small_aux_blocks: None, tmp_path: Path) -> None:
    from vqcodec.io.wfdb import WfdbSource

    sig = _long_mixed()
    write_wfdb(tmp_path / "rec", Signal(sig.samples, sig.fs, sig.channels, "rec"))
    on_disk = read_wfdb(tmp_path / "rec")
    for max_error in (None, 0):
        whole = codec.compress(on_disk, max_error=max_error).data
        for window in (256, None):
            assert codec.compress_source(WfdbSource(tmp_path / "rec"), window=window, max_error=max_error).data \
                == whole


def test_a_damaged_aux_block_is_named(codec: Codec, small_aux_blocks: None) -> None:
    f = ecg_file.loads(codec.compress(_long_mixed()).data)
    blocks = f.aux[1].blocks
    assert blocks is not None
    bad = bytearray(blocks[2])
    bad[-1] ^= 0x01  # the block's CRC of its decoded samples
    blocks[2] = bytes(bad)
    data = ecg_file.dumps(f)  # written again: the section's CRC and the block's own are those of the damage
    with pytest.raises(ChecksumError, match="aux signal RESP block 2"):
        codec.decompress(data, "d.vqc")
    part = codec.decompress(data, "d.vqc", start=0, stop=4000)  # clear of RESP's block 2 (samples 2000..2249)
    assert part.aux[0].n_samples == 1000


def test_a_reader_before_1_14_refuses_aux_blocks_as_unsupported(codec: Codec, monkeypatch: pytest.MonkeyPatch) -> None:
    data = codec.compress(_mixed()).data
    monkeypatch.delitem(vqc.SECTION_TYPES, ecg_file.TAG_AUXB)
    with pytest.raises(FormatError, match="n.vqc: unsupported feature AUXB"):
        vqc.loads(data, "n.vqc")


def test_salvage_loses_only_a_damaged_aux_block_and_a_range_clear_of_it_decodes(codec: Codec,
                                                                                 small_aux_blocks: None) -> None:
    data = codec.compress(_long_mixed()).data
    clean = codec.decompress(data)
    f = ecg_file.loads(data)
    payload = (f.aux[1].blocks or [])[2]  # RESP's last block: its samples 2000..2249, record samples 8000..8999
    bad = bytearray(data)
    bad[data.index(payload) + len(payload) // 2] ^= 0x40
    with pytest.raises(ChecksumError, match="section AUXB CRC mismatch"):
        ecg_file.loads(bytes(bad), "d.vqc")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        back = vqcodec.decompress(bytes(bad), codec, name="d.vqc", salvage=True)
    said = [str(w.message) for w in caught]
    assert any("section AUXB CRC mismatch" in m for m in said), said
    assert any("aux signal RESP block 2 lost" in m and "samples 2000..2249" in m for m in said), said
    assert np.isnan(back.aux[0].samples[2000:]).all()
    np.testing.assert_array_equal(back.aux[0].samples[:2000], clean.aux[0].samples[:2000])
    np.testing.assert_array_equal(back.samples, clean.samples)
    with pytest.warns(UserWarning, match="damaged outside the range asked for .aux signal RESP block 2"):
        part = vqcodec.decompress(bytes(bad), codec, name="d.vqc", start=0, stop=4000)
    np.testing.assert_array_equal(part.aux[0].samples, clean.aux[0].samples[:1000])
    with pytest.raises(ChecksumError, match="aux signal RESP block 2 .its samples 2000..2249., which the range needs"):
        vqcodec.decompress(bytes(bad), codec, name="d.vqc", start=7000, stop=9000)
    runs_at = data.index(b"AUXB") + 4 + 4 + 4 + 2 * 8  # the section's payload: count, two entries, ABP's first run
    index = bytearray(data)
    index[runs_at] ^= 0x01
    with pytest.raises(FormatError, match="damaged outside its aux blocks"):
        vqcodec.decompress(bytes(index), codec, name="i.vqc", salvage=True)

"""The public contract of `vqcodec.api` and both codecs: sources, limits, result records, errors, the channel policy."""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pytest

import vqcodec
from tests.helpers.bundles import edited_bundle
from tests.helpers.notes import random_performance
from tests.helpers.signals import make_signal
from vqcodec import api
from vqcodec.ecg import file as ecg_payload
from vqcodec.ecg.codec import MODEL_MIN_ERROR, Codec
from vqcodec.ecg.conditioning import model_length
from vqcodec.ecg.signal import ChannelInfo, Signal
from vqcodec.errors import ChannelError, FormatError, InputError, LimitError, ModelMismatchError, VqcError
from vqcodec.metrics import Compressed, CompressedToTarget, NoteReport, Report
from vqcodec.midi.codec import NoteCodec
from vqcodec.midi.performance import Performance


@pytest.fixture(scope="module")
def midi() -> NoteCodec:
    return NoteCodec.load("midi")


@pytest.fixture(scope="module")
def ecg_file(codec: Codec) -> bytes:
    return codec.compress(make_signal(2000, channels=2)).data


def _with_units(signal: Signal, *units: str) -> Signal:
    """The signal with its channels' units replaced, in order."""
    channels = [ChannelInfo(ch.name, u, ch.gain, ch.baseline, ch.adc_res, ch.adc_zero, ch.fmt)
                for ch, u in zip(signal.channels, units)]
    return Signal(signal.samples, signal.fs, channels, signal.record_name)


# ------------------------------------------------------------------ sources: a path, bytes or a binary file


def test_decompress_and_info_read_a_path_bytes_or_a_binary_file_alike(codec: Codec, ecg_file: bytes,
                                                                        tmp_path: Path) -> None:
    path = tmp_path / "r.vqc"
    path.write_bytes(ecg_file)
    expected = codec.decompress(ecg_file).samples
    sources = [path, str(path), ecg_file, bytearray(ecg_file), memoryview(ecg_file), io.BytesIO(ecg_file)]
    for source in sources:
        np.testing.assert_array_equal(api.decompress(source, codec).samples, expected)
    with path.open("rb") as fh:
        np.testing.assert_array_equal(api.decompress(fh, codec).samples, expected)
    infos = [api.info(source) for source in (path, ecg_file, io.BytesIO(ecg_file))]
    assert [i.path for i in infos] == [str(path), "<bytes>", "<bytes>"]
    assert {(i.n_bytes, i.n_samples, i.model) for i in infos} == {(len(ecg_file), 2000, "tiny-test")}


def test_messages_name_the_path_or_bytes_or_the_name_given(codec: Codec, ecg_file: bytes, tmp_path: Path) -> None:
    cut = ecg_file[: len(ecg_file) // 2]
    path = tmp_path / "cut.vqc"
    path.write_bytes(cut)
    for source, name, expected in [(path, None, str(path)), (cut, None, "<bytes>"), (cut, "mine.vqc", "mine.vqc")]:
        with pytest.raises(FormatError) as err:
            api.decompress(source, codec, name=name)
        assert str(err.value).startswith(f"{expected}: ")
        with pytest.raises(FormatError, match=f"^{re.escape(expected)}: "):
            codec.decompress(cut, expected)


@pytest.mark.parametrize("source", [12, None, ["bytes"], io.StringIO("text")])
def test_a_source_that_is_not_a_file_is_an_input_error(source: object) -> None:
    with pytest.raises(InputError) as err:
        api.decompress(source)  # type: ignore[arg-type]
    assert isinstance(err.value, ValueError) and "\n" not in str(err.value)
    with pytest.raises(InputError):
        api.info(source)  # type: ignore[arg-type]


def test_a_missing_path_is_an_input_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=f"^{re.escape(str(tmp_path / 'none.vqc'))}: no such file"):
        api.decompress(tmp_path / "none.vqc")


# ------------------------------------------------------------------ safety limits are a parameter


def test_limits_bound_what_a_file_may_declare(codec: Codec, ecg_file: bytes) -> None:
    small = vqcodec.Limits(max_samples=1999)
    with pytest.raises(LimitError, match="^small.vqc: .*limit 1999"):
        api.decompress(ecg_file, codec, name="small.vqc", limits=small)
    with pytest.raises(LimitError, match="limit 1999"):
        codec.decompress(ecg_file, limits=small)
    with pytest.raises(LimitError, match="limit 1999"):
        api.info(ecg_file, limits=small)
    assert api.decompress(ecg_file, codec, limits=vqcodec.Limits(max_samples=2000)).n_samples == 2000
    one = vqcodec.Limits(max_channels=1)
    with pytest.raises(LimitError, match="channels exceed the limit 1"):
        api.decompress(ecg_file, codec, limits=one)


def test_limits_apply_to_midi_files_too(midi: NoteCodec) -> None:
    data = midi.compress(random_performance(50, seed=3)).data
    with pytest.raises(LimitError, match="limit 49"):
        midi.decompress(data, limits=vqcodec.Limits(max_samples=49))
    with pytest.raises(LimitError, match="limit 49"):
        api.decompress(data, limits=vqcodec.Limits(max_samples=49))


# ------------------------------------------------------------------ one result shape for both codecs


def test_both_codecs_return_a_compressed_record_and_the_facade_its_bytes(codec: Codec, midi: NoteCodec) -> None:
    sig, perf = make_signal(1500, channels=1), random_performance(60, seed=1)
    ecg = codec.compress(sig)
    notes = midi.compress(perf)
    assert isinstance(ecg, Compressed) and isinstance(ecg.report, Report) and ecg.report.n_bytes == len(ecg.data)
    assert isinstance(notes, Compressed) and isinstance(notes.report, NoteReport)
    data, report = notes  # unpacks as the old tuple did
    assert report.n_bytes == len(data) and report.n_notes == 60
    assert vqcodec.compress(sig, codec) == ecg.data
    assert vqcodec.compress(perf, midi) == notes.data == vqcodec.compress(perf)
    chosen = codec.compress_to_prdn(sig, 1000.0)
    assert isinstance(chosen, CompressedToTarget) and chosen.setting.startswith("quality")
    assert chosen.report.prdn <= 1000.0 and chosen.report.n_bytes == len(chosen.data)


def test_note_codec_decompress_mirrors_codec_decompress(midi: NoteCodec) -> None:
    perf = random_performance(80, seed=2)
    data = midi.compress(perf, 4, name="piece").data
    back = midi.decompress(data)
    assert isinstance(back, Performance) and len(back) == 80
    again = api.decompress(data)
    np.testing.assert_array_equal(back.onset, again.onset)
    np.testing.assert_array_equal(midi.decompress(bytearray(data)).pitch, back.pitch)
    with pytest.raises(FormatError, match="^piece.vqc: "):
        midi.decompress(data[:40], "piece.vqc")


def test_each_codec_refuses_the_other_kind_of_input_as_an_input_error(codec: Codec, midi: NoteCodec) -> None:
    sig, perf = make_signal(300, channels=1), random_performance(20)
    with pytest.raises(InputError, match="codes Signals, not Performance"):
        codec.compress(perf)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="codes Performances, not Signal"):
        midi.compress(sig)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="codes Signals"):
        vqcodec.compress(perf, codec)
    with pytest.raises(InputError, match="expected a Signal or a Performance"):
        vqcodec.compress(np.zeros((10, 1)))  # type: ignore[arg-type]
    with pytest.raises(ModelMismatchError, match="^<bytes>: a midi file, and tiny-test is an ecg model"):
        api.decompress(midi.compress(perf).data, codec)
    with pytest.raises(ModelMismatchError, match="is a MIDI model"):
        api.decompress(codec.compress(sig).data, midi)


def test_a_max_error_for_midi_is_an_input_error_in_the_codec_and_the_facade(midi: NoteCodec) -> None:
    perf = random_performance(20)
    for call in (lambda: midi.compress(perf, max_error=1), lambda: vqcodec.compress(perf, max_error=1)):
        with pytest.raises(InputError, match="max_error bounds ECG samples") as err:
            call()
        assert isinstance(err.value, ValueError)


# ------------------------------------------------------------------ errors: VqcErrors, and ValueErrors where apt


def test_input_and_format_errors_are_value_errors() -> None:
    assert issubclass(InputError, ValueError) and issubclass(InputError, VqcError)
    assert issubclass(FormatError, ValueError) and issubclass(FormatError, VqcError)
    assert issubclass(ChannelError, InputError)


@pytest.mark.parametrize("quality", ["high", 2.5j, 99, -1])
def test_a_bad_quality_is_an_input_error_naming_the_record(codec: Codec, midi: NoteCodec, quality: object) -> None:
    with pytest.raises(InputError, match="^synth: --quality must be one of 1..3"):
        codec.compress(make_signal(100, channels=1), quality)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="^performance: --quality must be one of 1..7"):
        midi.compress(random_performance(5), quality)  # type: ignore[arg-type]


def test_constructors_raise_input_errors_naming_what_is_wrong() -> None:
    with pytest.raises(InputError, match=r"^rec: samples must be \[T, C\]"):
        Signal(np.zeros(5), 360.0, [ChannelInfo("a")], "rec")
    with pytest.raises(InputError, match="offset before onset"):
        Performance([60], [1.0], [0.5], [64])
    with pytest.raises(InputError, match="^synth: shape mismatch"):
        vqcodec.compare(make_signal(10, channels=1), make_signal(11, channels=1), 0)


# ------------------------------------------------------------------ Codec.encode takes a Signal at any rate


@pytest.mark.parametrize("fs", [360.0, 500.0, 250.0])
def test_encode_resamples_a_signal_and_decode_gives_what_a_round_trip_gives(codec: Codec, fs: float) -> None:
    sig = make_signal(int(fs * 4), channels=2, fs=fs)
    sig.samples[100:130, 1] = np.nan
    codes = codec.encode(sig, 3)
    assert codes.n_model == model_length(sig.n_samples, fs, codec.fs) and codes.stages == codec.levels[3][0]
    decoded = codec.decode(codes, sig)
    round_trip = codec.decompress(codec.compress(sig, 3).data)
    np.testing.assert_array_equal(decoded.samples, round_trip.samples)  # NaN where the input is, too
    assert decoded.fs == fs and decoded.channels == sig.channels


def test_encode_at_500_hz_differs_from_treating_the_samples_as_model_rate(codec: Codec) -> None:
    """What Codec.encode used to do silently: a 500 Hz array taken as 360 Hz gives other (wrong) codes."""
    sig = make_signal(2000, channels=1, fs=500.0)
    right = codec.encode(sig)
    wrong = codec.encode_model_rate(sig.samples)
    assert right.n_model == model_length(2000, 500.0, codec.fs) != wrong.n_model == 2000


def test_decode_refuses_codes_that_do_not_fit_the_template(codec: Codec) -> None:
    codes = codec.encode(make_signal(1000, channels=1))
    with pytest.raises(InputError, match="do not fit"):
        codec.decode(codes, make_signal(1200, channels=1))
    with pytest.raises(InputError, match="do not fit"):
        codec.decode(codes, make_signal(1000, channels=2))


# ------------------------------------------------------------------ the channel policy, in the codec


def test_a_channel_the_model_does_not_take_is_coded_without_it_and_refused_by_the_bare_encoder(codec: Codec) -> None:
    """compress (every way in) codes such a channel as an aux signal by the residual layer alone (lossless unless a
    max error is given); encode, which gives the model's codes alone, refuses it."""
    mixed = _with_units(make_signal(1200, channels=2), "mV", "mmHg")
    for data in (codec.compress(mixed).data, codec.compress(mixed, max_error=MODEL_MIN_ERROR).data,
                 codec.compress_to_prdn(mixed, 5.0).data, vqcodec.compress(mixed, codec)):
        f = ecg_payload.loads(data)
        assert [ch.name for ch in f.meta.channels] == ["ch0"] and [a.channel.name for a in f.meta.aux] == ["ch1"]
        back = codec.decompress(data)
        assert [ch.name for ch in back.channels] == ["ch0", "ch1"]
        assert np.abs(back.digital()[:, 1] - mixed.digital()[:, 1]).max() <= f.meta.aux[0].max_error
    with pytest.raises(ChannelError) as err:
        codec.encode(mixed)
    assert str(err.value).startswith("synth: ") and "ch1 (mmHg)" in str(err.value)
    assert err.value.refused == ["ch1 (mmHg)"] and err.value.fit == ["ch0"]
    for e in (0, MODEL_MIN_ERROR - 1):
        back = codec.decompress(codec.compress(mixed, max_error=e).data)
        assert np.abs(back.digital() - mixed.digital()).max() <= e


@pytest.mark.parametrize("units", ["V", " mV ", "uV", "µV", "μV", "nV", "MV", ""])
def test_voltages_and_no_unit_are_ecg_units(codec: Codec, units: str) -> None:
    sig = _with_units(make_signal(600, channels=1), units)
    assert codec.compress(sig).report.n_channels == 1


def test_a_manifest_can_state_the_units_its_model_takes(tiny_bundle: Path, tmp_path: Path) -> None:
    bp = Codec.load(edited_bundle(tiny_bundle, tmp_path / "bp", accepts_units=["mmHg"]), threads=1)
    assert bp.accepts_units == frozenset({"mmhg"})
    assert bp.compress(_with_units(make_signal(600, channels=1), "mmHg")).report.n_channels == 1
    no_model = bp.compress(make_signal(600, channels=1)).data  # no channel for it: no model, no aux
    assert no_model[10] == ecg_payload.RESIDUAL_BLOCKS_MINOR and b"AUXS" not in no_model
    with pytest.raises(ChannelError, match=r"ch0 \(mV\)"):
        bp.encode(make_signal(600, channels=1))


# ------------------------------------------------------------------ info says which unit a figure is in


def test_info_gives_each_channels_max_error_in_its_units_and_in_adc_units(codec: Codec) -> None:
    sig = _with_units(make_signal(1500, channels=2), "mV", "uV")
    lines = api.info(codec.compress(sig, max_error=2).data).lines()
    channel_lines = [line for line in lines if "max error" in line]
    assert len(channel_lines) == 2
    for line, unit in zip(channel_lines, ("mV", "uV")):
        physical, adc = line.split("max error ")[1].split(f" {unit} (")
        adc_units = float(adc.split(" ADC units")[0])
        assert adc_units <= 2 and adc_units == pytest.approx(float(physical) * 200, abs=0.05)  # gain 200

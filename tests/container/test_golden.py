"""Golden files: .vqc files written by format 1.0 and a frozen tiny model still decode to what they did.

The files under tests/data/golden/v1/ are never regenerated (a new format version adds v2/ and keeps v1/);
tests/data/golden/make_golden.py is how they were made, and this test never runs it. The packed indices are
compared exactly (sha256); the decoded samples within a stated tolerance, because onnxruntime does not
promise bitwise-identical floats across machines (microsoft/onnxruntime#5667, #9704).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from tests.helpers.notes import assert_same_notes
from vqcodec import api
from vqcodec.container import bitpack
from vqcodec.container import format as vf
from vqcodec.ecg.codec import Codec
from vqcodec.errors import FormatError
from vqcodec.midi.codec import NoteCodec
from vqcodec.midi.performance import Performance

GOLDEN = Path(__file__).parents[1] / "data" / "golden" / "v1"
EXPECTED = json.loads((GOLDEN / "expected.json").read_text())


@pytest.fixture(scope="module")
def golden_codec() -> Codec:
    """The frozen model that wrote the golden files, loaded (and sha256-verified) as any bundle is."""
    return Codec.load(GOLDEN / "model", threads=1)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_golden_file_parses_to_the_same_exact_indices(name: str) -> None:
    """The container and the packed indices are exact: byte-level compatibility of format 1.0."""
    data = (GOLDEN / f"{name}.vqc").read_bytes()
    want = EXPECTED[name]
    f = vf.loads(data, name)
    digests = [hashlib.sha256(bitpack.pack(b, f.header.bits_per_index)).hexdigest() for b in f.blocks]
    assert digests == want["block_index_sha256"]
    assert (f.header.n_samples, f.header.n_channels, f.header.fs) == (want["n_samples"], want["n_channels"],
                                                                       want["fs"])


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_golden_file_decodes_to_the_stored_reconstruction(name: str, golden_codec: Codec) -> None:
    """Decoding with today's code and runtime agrees with the stored result within the stated ADC steps."""
    data = (GOLDEN / f"{name}.vqc").read_bytes()
    assert vf.read_header(data)[0].model_sha256 == golden_codec.model_id
    expected = np.load(GOLDEN / f"{name}.expected.npy", allow_pickle=False)
    decoded = golden_codec.decompress(data, name)
    assert decoded.samples.shape == expected.shape
    np.testing.assert_array_equal(np.isnan(decoded.samples), np.isnan(expected))
    steps = EXPECTED[name]["tolerance_adc_steps"]
    for c, ch in enumerate(decoded.channels):
        np.testing.assert_allclose(decoded.samples[:, c], expected[:, c], rtol=0, atol=steps / ch.gain,
                                   equal_nan=True, err_msg=f"{name} channel {ch.name}")


def assert_never_regenerated(script: str, folder: Path) -> None:
    """Running the generating script again exits with "never regenerated" and leaves every file as it was."""
    spec = importlib.util.spec_from_file_location(Path(script).stem, GOLDEN.parent / script)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    before = {p.name: p.read_bytes() for p in folder.glob("*") if p.is_file()}
    with pytest.raises(SystemExit, match="never regenerated"):
        module.main()
    assert {p.name: p.read_bytes() for p in folder.glob("*") if p.is_file()} == before


def test_the_golden_files_are_small_and_not_regenerated() -> None:
    """The frozen set stays a few KB, and the generating script refuses to overwrite it."""
    sizes = [p.stat().st_size for p in GOLDEN.glob("*.vqc")]
    assert len(sizes) == len(EXPECTED) and max(sizes) < 2048
    assert sum(p.stat().st_size for p in (GOLDEN / "model").iterdir()) < 64 * 1024
    assert_never_regenerated("make_golden.py", GOLDEN)


RESIDUAL_GOLDEN = {minor: GOLDEN.parent / f"v1.{minor}" for minor in (1, 4)}
"""Residual-layer golden folders by format minor: 1.1 static tables, 1.4 adaptive contexts."""
RESIDUAL_CASES = [(minor, name) for minor, folder in RESIDUAL_GOLDEN.items()
                  for name in sorted(json.loads((folder / "expected.json").read_text()))]


@pytest.mark.parametrize("minor, name", RESIDUAL_CASES)
def test_a_residual_golden_file_decodes_to_exactly_the_stored_samples(minor: int, name: str,
                                                                     golden_codec: Codec) -> None:
    """The residual layer is exact integer arithmetic: today's decoder must give the very same ADC samples."""
    folder = RESIDUAL_GOLDEN[minor]
    data = (folder / f"{name}.vqc").read_bytes()
    assert data[8:12] == bytes([1, 0, minor, 0])
    decoded = golden_codec.decompress(data, name)
    expected = np.load(folder / f"{name}.expected.npy", allow_pickle=False)
    original = np.load(folder / "input.npy", allow_pickle=False)
    np.testing.assert_array_equal(decoded.digital(), expected)
    valid = ~np.isnan(decoded.samples)
    max_error = json.loads((folder / "expected.json").read_text())[name]["max_error"]
    assert np.abs(expected - original)[valid].max() <= max_error


@pytest.mark.parametrize("minor", sorted(RESIDUAL_GOLDEN))
def test_the_residual_golden_files_are_not_regenerated(minor: int) -> None:
    assert_never_regenerated(f"make_golden_v1_{minor}.py", RESIDUAL_GOLDEN[minor])


MIDI_GOLDEN = {3: GOLDEN.parent / "v1.3", 5: GOLDEN.parent / "v1.5", 6: GOLDEN.parent / "v1.6"}
"""Format minor -> folder of MIDI golden files (1.3: NOTE coding NC02 and JSON metrics; 1.5: NC03 and mNOT;
1.6: NC04)."""
MIDI_EXPECTED = {minor: json.loads((folder / "expected.json").read_text()) for minor, folder in MIDI_GOLDEN.items()}


def _note_table(perf: Performance) -> dict:
    return {"pitch": perf.pitch.tolist(), "onset": perf.onset.tolist(), "offset": perf.offset.tolist(),
            "velocity": perf.velocity.tolist(),
            "pedals": {str(k): [p.time.tolist(), p.value.tolist()] for k, p in perf.pedals.items()}}


@pytest.mark.parametrize(("minor", "name"), [(m, n) for m in MIDI_GOLDEN for n in sorted(MIDI_EXPECTED[m])])
def test_a_midi_golden_file_decodes_to_exactly_the_stored_notes(minor: int, name: str) -> None:
    """The note coder is integer arithmetic: the frozen bundle copy and the shipped bundle (which must list the
    file's model id as compatible, or be it) both give the very same note table, and `info` its metrics."""
    folder = MIDI_GOLDEN[minor]
    data = (folder / f"{name}.vqc").read_bytes()
    assert data[8:12] == bytes([1, 0, minor, 0])
    expected = {k: v for k, v in MIDI_EXPECTED[minor][name].items() if k != "model_id"}
    frozen = NoteCodec.load(folder / "model")
    assert frozen.model_id == MIDI_EXPECTED[minor][name]["model_id"]
    assert_same_notes(_note_table(frozen.decode_file(vf.loads(data, name), name)), expected)
    assert_same_notes(_note_table(api.decompress(data, name=name)), expected)  # the installed bundle, found by id
    metrics = vf.read_header(data, name)[1]
    assert metrics is not None and metrics["f1_onset"] == 1.0 and set(metrics["pedal_agreement"]) == {"64", "67"}


@pytest.mark.parametrize("minor", sorted(MIDI_GOLDEN))
def test_the_midi_golden_files_are_not_regenerated(minor: int) -> None:
    assert_never_regenerated(f"make_golden_v1_{minor}.py", MIDI_GOLDEN[minor])


CODED_GOLDEN = GOLDEN.parent / "v1.7"
"""Entropy-coded indices (IDXC): bigram-rans-1 (1.2) and bigram-rans-2 (1.7), with their frozen model."""
CODED_EXPECTED = json.loads((CODED_GOLDEN / "expected.json").read_text())


@pytest.mark.parametrize("name", sorted(CODED_EXPECTED))
def test_a_coded_golden_file_decodes_to_the_same_exact_indices_and_samples(name: str) -> None:
    """The rANS coding is integer arithmetic: the indices are exact; the samples within the stated ADC steps."""
    data = (CODED_GOLDEN / f"{name}.vqc").read_bytes()
    want = CODED_EXPECTED[name]
    assert data[8:12] == bytes([1, 0, want["minor"], 0])
    codec = Codec.load(CODED_GOLDEN / "model", threads=1)
    f = vf.loads(data, name)
    assert f.index_coding == want["index_coding"]
    indices = codec.file_indices(f, name)
    assert hashlib.sha256(indices.astype("<u2").tobytes()).hexdigest() == want["indices_sha256"]
    expected = np.load(CODED_GOLDEN / f"{name}.expected.npy", allow_pickle=False)
    decoded = codec.decompress(data, name)
    np.testing.assert_array_equal(np.isnan(decoded.samples), np.isnan(expected))
    for c, ch in enumerate(decoded.channels):
        np.testing.assert_allclose(decoded.samples[:, c], expected[:, c], rtol=0,
                                   atol=want["tolerance_adc_steps"] / ch.gain, equal_nan=True)


def test_the_coded_golden_files_are_not_regenerated() -> None:
    assert_never_regenerated("make_golden_v1_7.py", CODED_GOLDEN)


BOUND_GOLDEN = GOLDEN.parent / "v1.8"
"""Format 1.8: the binding (bIND) and the digests of the decoded signal (dSIG) and notes (dNOT)."""
BOUND_EXPECTED = json.loads((BOUND_GOLDEN / "expected.json").read_text())


@pytest.mark.parametrize("name", sorted(BOUND_EXPECTED))
def test_a_bound_golden_file_decodes_to_the_same_samples_and_verifies(name: str) -> None:
    data = (BOUND_GOLDEN / f"{name}.vqc").read_bytes()
    want = BOUND_EXPECTED[name]
    assert hashlib.sha256(data).hexdigest() == want["file_sha256"] and data[8:12] == bytes([1, 0, want["minor"], 0])
    assert want["minor"] == vf.BIND_MINOR and vf.loads(data, name).bound
    if name.startswith("piano"):
        midi = NoteCodec.load(GOLDEN.parent / "v1.6" / "model")
        perf = midi.decompress(data, name)
        assert_same_notes({k: getattr(perf, k).tolist() for k in ("pitch", "onset", "offset", "velocity")}, want)
        assert api.verify(data, midi).bound
        return
    codec = Codec.load(GOLDEN.parent / "v1.7" / "model", threads=1)
    decoded = codec.decompress(data, name)
    expected = np.load(BOUND_GOLDEN / f"{name}.expected.npy", allow_pickle=False)
    if want["exact"]:  # the residual layer is integer arithmetic, and its digest (dSIG) was checked on the way
        np.testing.assert_array_equal(decoded.samples, expected)
    else:
        step = 1 / decoded.channels[0].gain
        np.testing.assert_allclose(decoded.samples, expected, atol=want["tolerance_adc_steps"] * step)
    assert api.verify(data, codec).bound


def test_the_bound_golden_files_are_not_regenerated() -> None:
    assert_never_regenerated("make_golden_v1_8.py", BOUND_GOLDEN)


RECORD_FILES_GOLDEN = GOLDEN.parent / "v1.9-annotations"
"""Format 1.9, an ECG record's own files: aNNO (annotation files) and wHEA (a lossless file's original header), with
the record they came from (synth.hea written by hand, synth.dat, synth.atr, synth.qrs)."""
RECORD_FILES_EXPECTED = json.loads((RECORD_FILES_GOLDEN / "expected.json").read_text())


@pytest.mark.parametrize("name", sorted(RECORD_FILES_EXPECTED))
def test_a_golden_file_with_annotations_keeps_them_and_decodes_as_written(name: str, tmp_path: Path) -> None:
    """The kept files come back byte for byte (the header only from the lossless file), and the samples as stored."""
    from vqcodec.ecg import file as ecg_file
    from vqcodec.records import decompress_one

    data = (RECORD_FILES_GOLDEN / f"{name}.vqc").read_bytes()
    want = RECORD_FILES_EXPECTED[name]
    assert hashlib.sha256(data).hexdigest() == want["file_sha256"]
    assert data[8:12] == bytes([1, 0, want["minor"], 0]) and want["minor"] == ecg_file.RECORD_FILES_MINOR
    f = vf.loads(data, name)
    assert {ext: hashlib.sha256(b).hexdigest() for ext, b in f.annotations.items()} == want["annotations"]
    assert (hashlib.sha256(f.wfdb_header).hexdigest() if f.wfdb_header else None) == want["header_sha256"]
    assert api.read_annotations(data) == f.annotations
    codec = Codec.load(GOLDEN.parent / "v1.7" / "model", threads=1)
    decoded = codec.decompress(data, name)
    expected = np.load(RECORD_FILES_GOLDEN / f"{name}.expected.npy", allow_pickle=False)
    if want["exact"]:
        np.testing.assert_array_equal(decoded.samples, expected)
    else:
        np.testing.assert_allclose(decoded.samples, expected, atol=want["tolerance_adc_steps"] / 200)
    (tmp_path / f"{name}.vqc").write_bytes(data)
    decompress_one(tmp_path / f"{name}.vqc", str(tmp_path / "out" / "synth"), str(GOLDEN.parent / "v1.7" / "model"),
                    force=False, salvage=False)
    same = ["synth.atr", "synth.qrs"] + (["synth.hea", "synth.dat"] if want["exact"] else [])
    for file in same:
        assert (tmp_path / "out" / file).read_bytes() == (RECORD_FILES_GOLDEN / file).read_bytes(), file


def test_the_golden_files_with_annotations_are_not_regenerated() -> None:
    assert_never_regenerated("make_golden_v1_9_annotations.py", RECORD_FILES_GOLDEN)


DEPTH_GOLDEN = GOLDEN.parent / "v1.9"
"""Format 1.9: NOTE coding NC05 (pedal depth on 6 and 128 levels) and eVNT (the meta events), written with the
frozen model of v1.6 (the shipped midi-v1)."""
DEPTH_EXPECTED = json.loads((DEPTH_GOLDEN / "expected.json").read_text())


@pytest.mark.parametrize("name", sorted(DEPTH_EXPECTED))
def test_a_pedal_depth_golden_file_decodes_to_exactly_the_stored_notes_and_events(name: str) -> None:
    data = (DEPTH_GOLDEN / f"{name}.vqc").read_bytes()
    want = DEPTH_EXPECTED[name]
    assert hashlib.sha256(data).hexdigest() == want["file_sha256"] and data[8:12] == bytes([1, 0, want["minor"], 0])
    assert want["minor"] == 9 and vf.loads(data, name).notes[:4] == b"NC05"
    frozen = NoteCodec.load(GOLDEN.parent / "v1.6" / "model")
    assert frozen.model_id == want["model_id"]
    for perf in (frozen.decompress(data, name), api.decompress(data, name=name)):  # and the installed bundle
        assert_same_notes(_note_table(perf), want)
        assert [[e.time, e.type, e.data.hex(), e.track] for e in perf.meta] == want["meta"]
    depth = set(want["pedals"]["64"][1])
    assert len(depth) > 2 and len(depth) <= want["pedal_levels"]  # half-pedalling, on the level's levels
    assert api.verify(data, frozen).bound


def test_the_pedal_depth_golden_files_are_not_regenerated() -> None:
    assert_never_regenerated("make_golden_v1_9.py", DEPTH_GOLDEN)


@pytest.mark.parametrize(("minor", "name"), [(m, n) for m in MIDI_GOLDEN for n in sorted(MIDI_EXPECTED[m])])
def test_a_midi_file_from_before_1_9_decodes_with_on_off_pedals_and_no_meta_events(minor: int, name: str) -> None:
    perf = api.decompress((MIDI_GOLDEN[minor] / f"{name}.vqc").read_bytes(), name=name)
    assert perf.meta == [] and all(set(p.value.tolist()) <= {0, 127} for p in perf.pedals.values())


AUX_GOLDEN = GOLDEN.parent / "v1.10"
"""Format 1.10: AUXS (respiration at 25 Hz and blood pressure at 120 Hz, coded without the model), eDFH and eDFA (the
EDF+ file's header and annotation signal), with the EDF file they came from (synth.edf, written by pyedflib)."""
AUX_EXPECTED = json.loads((AUX_GOLDEN / "expected.json").read_text())


@pytest.mark.parametrize("name", sorted(AUX_EXPECTED))
def test_a_golden_file_with_aux_signals_decodes_to_its_edf_file(name: str, tmp_path: Path) -> None:
    """The lossless file decodes to synth.edf byte for byte; the q2 file to its header, annotations and aux signals
    exactly and its ECG within the tolerance of onnxruntime's floats."""
    from vqcodec.ecg import file as ecg_file
    from vqcodec.io.edf import read_edf_file

    data = (AUX_GOLDEN / f"{name}.vqc").read_bytes()
    want = AUX_EXPECTED[name]
    assert hashlib.sha256(data).hexdigest() == want["file_sha256"]
    assert data[8:12] == bytes([1, 0, want["minor"], 0]) and want["minor"] == ecg_file.AUX_MINOR
    codec = Codec.load(GOLDEN.parent / "v1.7" / "model", threads=1)
    decoded = codec.decompress(data, name)
    assert {a.channel.name: hashlib.sha256(a.digital().astype("<i8").tobytes()).hexdigest()
            for a in decoded.aux} == want["aux"]
    expected = np.load(AUX_GOLDEN / f"{name}.expected.npy", allow_pickle=False)
    if want["exact"]:
        np.testing.assert_array_equal(decoded.samples, expected)
    else:
        gain = decoded.channels[0].gain
        np.testing.assert_allclose(decoded.samples, expected, atol=want["tolerance_adc_steps"] / gain)
    out = api.decompress_edf(data, tmp_path / "back.edf", codec)[0]
    original = read_edf_file(AUX_GOLDEN / "synth.edf")
    if want["exact"]:
        assert hashlib.sha256(out.read_bytes()).hexdigest() == want["edf_sha256"]
        assert out.read_bytes() == (AUX_GOLDEN / "synth.edf").read_bytes()
    back = read_edf_file(out)
    assert back.header.raw == original.header.raw and back.annotations == original.annotations
    for k in (2, 3):
        np.testing.assert_array_equal(back.digital[k], original.digital[k])


def test_the_golden_files_with_aux_signals_are_not_regenerated() -> None:
    assert_never_regenerated("make_golden_v1_10.py", AUX_GOLDEN)


RESB_GOLDEN = GOLDEN.parent / "v1.11"
"""Format 1.11: the residual layer block by block (RESB), in blocks of 6144 samples that the header states (not the
release's RESIDUAL_BLOCK_SAMPLES): a lossless file without a model layer, and one within max error 5 around it."""
RESB_EXPECTED = json.loads((RESB_GOLDEN / "expected.json").read_text())


@pytest.mark.parametrize("name", sorted(RESB_EXPECTED))
def test_a_golden_file_with_residual_blocks_decodes_exactly_whole_in_windows_and_in_ranges(name: str) -> None:
    from vqcodec.ecg import file as ecg_file

    data = (RESB_GOLDEN / f"{name}.vqc").read_bytes()
    want = RESB_EXPECTED[name]
    assert hashlib.sha256(data).hexdigest() == want["file_sha256"]
    assert data[8:12] == bytes([1, 0, want["minor"], 0]) and want["minor"] == ecg_file.RESIDUAL_BLOCKS_MINOR
    f = ecg_file.loads(data, name)
    assert f.meta.residual_block == want["residual_block"] != ecg_file.RESIDUAL_BLOCK_SAMPLES
    assert f.residual_blocks is not None and len(f.residual_blocks) == want["blocks"]
    assert f.header.n_stages == want["n_stages"]
    codec = Codec.load(GOLDEN.parent / "v1.7" / "model", threads=1)
    decoded = codec.decompress(data, name)
    assert hashlib.sha256(decoded.digital().astype("<i8").tobytes()).hexdigest() == want["digital_sha256"]
    assert codec.streams(f)
    np.testing.assert_array_equal(np.concatenate(list(codec.decode_windows(f, name))), decoded.samples)
    part = codec.decompress(data, name, start=6000, stop=13000)
    np.testing.assert_array_equal(part.samples, decoded.samples[6000:13000])


def test_the_residual_block_golden_files_are_not_regenerated() -> None:
    assert_never_regenerated("make_golden_v1_11.py", RESB_GOLDEN)


def test_a_reader_before_1_11_refuses_residual_blocks_as_unsupported(monkeypatch: pytest.MonkeyPatch) -> None:
    """A reader that does not know RESB (as every release before 1.11) refuses the file, never decodes it without
    its residual layer."""
    data = (RESB_GOLDEN / "lossless.vqc").read_bytes()
    monkeypatch.delitem(vf.SECTION_TYPES, "RESB")
    with pytest.raises(FormatError, match="unsupported feature RESB"):
        vf.loads(data, "new.vqc")


PRIOR_GOLDEN = GOLDEN.parent / "v1.12"
"""Format 1.12: NOTE coding NC06 (the note streams under midi-v2's integer neural prior, in lanes), written with a
frozen copy of the shipped midi-v2 (with midi-v1's count priors beside its graphs) in v1.12/model."""
PRIOR_EXPECTED = json.loads((PRIOR_GOLDEN / "expected.json").read_text())


@pytest.mark.parametrize("name", sorted(PRIOR_EXPECTED))
def test_a_neural_prior_golden_file_decodes_to_exactly_the_stored_notes(name: str) -> None:
    pytest.importorskip("onnx")  # FloatPrior reads the graphs back with onnx (the [train] extra)
    from tests.helpers.note_prior import FloatPrior
    from vqcodec.midi import coder as nc

    data = (PRIOR_GOLDEN / f"{name}.vqc").read_bytes()
    want = PRIOR_EXPECTED[name]
    assert hashlib.sha256(data).hexdigest() == want["file_sha256"] and data[8:12] == bytes([1, 0, want["minor"], 0])
    f = vf.loads(data, name)
    assert want["minor"] == 12 and f.notes[:4] == b"NC06" and want["lanes"] > 1
    frozen = NoteCodec.load(PRIOR_GOLDEN / "model")
    assert frozen.model_id == want["model_id"]
    for perf in (frozen.decompress(data, name), api.decompress(data, name=name)):  # and the installed bundle
        assert_same_notes(_note_table(perf), want)
    assert api.verify(data, frozen).bound
    # the same notes from a decoder that runs the graphs in float32, every sum moved by up to 0.49
    prior = frozen.bundle.prior()
    assert prior is not None
    quality = frozen.default_quality
    sym, _ = nc.decode(f.notes, f.header.n_samples, frozen.bundle.priors(quality), name, FloatPrior(prior, 0.49))
    assert_same_notes(_note_table(nc.rebuild(sym, frozen.setting(quality))), want)


def test_the_neural_prior_golden_files_are_not_regenerated() -> None:
    assert_never_regenerated("make_golden_v1_12.py", PRIOR_GOLDEN)


VQ_GOLDEN = GOLDEN.parent / "v1.13"
"""Format 1.13: NOTE coding VQN1 (midi-vq), written with the frozen copy of the shipped midi-vq in v1.13/model."""


def test_a_midi_vq_golden_file_decodes_to_exactly_the_stored_notes_and_events() -> None:
    from vqcodec.midi.file import VQ_NOTES_MINOR

    expected = json.loads((VQ_GOLDEN / "expected.json").read_text())
    frozen = NoteCodec.load(VQ_GOLDEN / "model", threads=1)
    for name, want in expected.items():
        data = (VQ_GOLDEN / f"{name}.vqc").read_bytes()
        assert hashlib.sha256(data).hexdigest() == want["file_sha256"]
        assert want["minor"] == VQ_NOTES_MINOR and data[8:12] == bytes([1, 0, want["minor"], 0])
        assert vf.loads(data, name).notes[:4] == b"VQN1" and frozen.model_id == want["model_id"]
        for perf in (frozen.decompress(data, name), api.decompress(data, name=name)):  # and the installed bundle
            assert_same_notes(_note_table(perf), want)
            assert [[e.time, e.type, e.data.hex(), e.track] for e in perf.meta] == want["meta"]
        assert api.verify(data, frozen).bound


def test_the_midi_vq_golden_files_are_not_regenerated() -> None:
    assert_never_regenerated("make_golden_v1_13.py", VQ_GOLDEN)


AUXB_GOLDEN = GOLDEN.parent / "v1.14"
"""Format 1.14: the aux signals block by block (AUXB), in aux blocks of 512 samples that the header states (not the
release's AUX_BLOCK_SAMPLES): a blood pressure at the record's rate and a respiration at a quarter of it, within max
error 5 and lossless, and v1.10's EDF file lossless."""
AUXB_EXPECTED = json.loads((AUXB_GOLDEN / "expected.json").read_text())


@pytest.mark.parametrize("name", sorted(AUXB_EXPECTED))
def test_a_golden_file_with_aux_blocks_decodes_exactly_whole_in_windows_and_in_ranges(name: str,
                                                                                      tmp_path: Path) -> None:
    from vqcodec.ecg import file as ecg_file
    from vqcodec.ecg.codec import _cut

    data = (AUXB_GOLDEN / f"{name}.vqc").read_bytes()
    want = AUXB_EXPECTED[name]
    assert hashlib.sha256(data).hexdigest() == want["file_sha256"]
    assert data[8:12] == bytes([1, 0, want["minor"], 0]) and want["minor"] == ecg_file.AUX_BLOCKS_MINOR
    f = ecg_file.loads(data, name)
    assert f.meta.aux_block == want["aux_block"] != ecg_file.AUX_BLOCK_SAMPLES
    assert {i.channel.name: len(a.blocks or []) for i, a in zip(f.meta.aux, f.aux)} == want["aux_blocks"]
    codec = Codec.load(GOLDEN.parent / "v1.7" / "model", threads=1)
    decoded = codec.decompress(data, name)
    assert [ch.name for ch in decoded.channels] == want["channels"]
    assert hashlib.sha256(decoded.digital().astype("<i8").tobytes()).hexdigest() == want["digital_sha256"]
    assert {a.channel.name: hashlib.sha256(a.digital().astype("<i8").tobytes()).hexdigest()
            for a in decoded.aux} == want["aux"]
    assert codec.streams(f)
    np.testing.assert_array_equal(np.concatenate(list(codec.decode_windows(f, name))), decoded.samples)
    n = decoded.n_samples
    for start, stop in [(1000, 1100), (n // 3, n - n // 5), (n - 7, n)]:
        part, cut = codec.decompress(data, name, start=start, stop=stop), _cut(decoded, start, stop)
        np.testing.assert_array_equal(part.samples, cut.samples)
        for got, expect in zip(part.aux, cut.aux, strict=True):
            np.testing.assert_array_equal(got.samples, expect.samples)
    if "edf_sha256" in want:
        out = api.decompress_edf(data, tmp_path / "back.edf", codec)[0]
        assert hashlib.sha256(out.read_bytes()).hexdigest() == want["edf_sha256"]
        assert out.read_bytes() == (AUX_GOLDEN / "synth.edf").read_bytes()


def test_the_aux_block_golden_files_are_not_regenerated() -> None:
    assert_never_regenerated("make_golden_v1_14.py", AUXB_GOLDEN)


def test_a_reader_before_1_14_refuses_aux_blocks_as_unsupported(monkeypatch: pytest.MonkeyPatch) -> None:
    """A reader that does not know AUXB (as every release before 1.14) refuses the file, never decodes it without its
    aux signals."""
    data = (AUXB_GOLDEN / "e5.vqc").read_bytes()
    monkeypatch.delitem(vf.SECTION_TYPES, "AUXB")
    with pytest.raises(FormatError, match="unsupported feature AUXB"):
        vf.loads(data, "new.vqc")


PEDAL_GOLDEN = GOLDEN.parent / "v1.15"
"""Format 1.15: NOTE codings NC07 and NC08 (the pedal coding, its tables the package's), written with the frozen
midi-v2 of v1.12/model (NC07 at 6 and 128 pedal levels, NC08) and the frozen midi-vq of v1.13/model (a VQN1 payload
whose pedal stream is NC07)."""
PEDAL_EXPECTED = json.loads((PEDAL_GOLDEN / "expected.json").read_text())


@pytest.mark.parametrize("name", sorted(PEDAL_EXPECTED))
def test_a_pedal_coding_golden_file_decodes_to_exactly_the_stored_notes_and_pedals(name: str) -> None:
    from vqcodec.midi.file import PEDAL_MINOR, VQ_PEDAL_AT

    data = (PEDAL_GOLDEN / f"{name}.vqc").read_bytes()
    want = PEDAL_EXPECTED[name]
    assert hashlib.sha256(data).hexdigest() == want["file_sha256"]
    assert want["minor"] == PEDAL_MINOR and data[8:12] == bytes([1, 0, want["minor"], 0])
    notes = vf.loads(data, name).notes
    at = VQ_PEDAL_AT + 4
    assert notes[:4].decode() == want["coding"]
    assert (notes[at : at + 4] if want["coding"] == "VQN1" else notes[:4]).decode() == want["pedal_coding"]
    frozen = NoteCodec.load(PEDAL_GOLDEN.parent / want["model"], threads=1)
    assert frozen.model_id == want["model_id"]
    for perf in (frozen.decompress(data, name), api.decompress(data, name=name)):  # and the installed bundle
        assert_same_notes(_note_table(perf), want)
    assert api.verify(data, frozen).bound


def test_the_pedal_coding_golden_files_are_not_regenerated() -> None:
    assert_never_regenerated("make_golden_v1_15.py", PEDAL_GOLDEN)


@pytest.mark.parametrize("name", sorted(PEDAL_EXPECTED))
def test_a_reader_before_1_15_refuses_the_pedal_coding_by_name(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A reader that knows the NOTE codings up to NC06 (as every release before 1.15) refuses NC07 and NC08, in the
    NOTE section or in a VQN1 payload's pedal stream, by name: it never decodes their pedals as NC05's."""
    from vqcodec.midi import coder as nc

    data = (PEDAL_GOLDEN / f"{name}.vqc").read_bytes()
    frozen = NoteCodec.load(PEDAL_GOLDEN.parent / PEDAL_EXPECTED[name]["model"], threads=1)
    monkeypatch.setattr(nc, "CODINGS", (nc.NC02, nc.NC03, nc.NC04, nc.NOTE_CODING, nc.NC06))
    with pytest.raises(FormatError, match=r"NOTE coding b'NC0[78]' is not one this version reads"):
        frozen.decompress(data, name)

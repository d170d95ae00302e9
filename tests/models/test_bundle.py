"""The shipped bundles (vqcodec.models.bundle): the current ECG and MIDI models whole, the earlier ones decode-only,
byte-identical files stored once and verified where they lie; test_compat.py decodes real 0.1.0 files with them."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.helpers.bundles import OPTIONAL_ECG
from tests.helpers.cli import Runner, assert_fails_cleanly
from tests.helpers.signals import make_signal
from vqcodec import BundleError, Codec, NoteCodec, Signal, api
from vqcodec.io import write
from vqcodec.midi.tokens import DEFAULT_VQ_MODEL
from vqcodec.models.bundle import (
    ALIASES,
    ENCODER_FILES,
    MANIFEST,
    REQUIRED_FILES,
    installed_models,
    kind_of,
    load_bundle,
    load_note_bundle,
    shipped_root,
)

EARLIER = ("ecg-v1", "ecg-v2", "ecg-v3")
"""The ECG models before the current one: shipped so that the files they wrote still decode."""
EARLIER_MIDI = ("midi-v1",)
"""The MIDI model before the current one (its count priors, which midi-v2 reads from beside it, and its id)."""
DECODING_FILES = ("decoder.onnx", "codebooks.npy", "priors.npy")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_current_models_are_whole_and_the_earlier_ones_decode_only() -> None:
    assert set(installed_models()) == {*EARLIER, *EARLIER_MIDI, *OPTIONAL_ECG, ALIASES["ecg"], ALIASES["midi"],
                                       DEFAULT_VQ_MODEL}
    for name in ("ecg", *OPTIONAL_ECG):
        current = load_bundle(name)
        assert not current.decode_only and set(REQUIRED_FILES) <= set(current.files)
        assert current.encoder == current.path / "encoder.onnx" and current.code_bits.shape == (4, 256)
    for name in EARLIER:
        bundle = load_bundle(name)
        assert bundle.decode_only and set(DECODING_FILES) <= set(bundle.files)
        assert not any((bundle.path / f).exists() for f in ENCODER_FILES)
        assert set(ENCODER_FILES) <= set(bundle.manifest["files"])  # the id still names the whole bundle
    assert load_note_bundle("midi").files.keys() == load_note_bundle("midi").manifest["files"].keys()
    vq = load_note_bundle(DEFAULT_VQ_MODEL)  # whole: its pedal table found in midi-v1, where it is stored once
    assert vq.files.keys() == vq.manifest["files"].keys() and vq.files["priors-q1.npz"].parent.name == "midi-v1"


def test_every_file_a_shipped_bundle_loads_has_the_sha256_its_manifest_lists() -> None:
    for name in installed_models():
        bundle = load_bundle(name) if kind_of(name) == "ecg" else load_note_bundle(name)
        manifest = json.loads((shipped_root() / name / MANIFEST).read_bytes())
        assert bundle.model_id == sha256(shipped_root() / name / MANIFEST)
        assert {f: sha256(p) for f, p in bundle.files.items()} == {
            f: d for f, d in manifest["files"].items() if f in bundle.files}


def test_no_two_shipped_files_are_byte_identical() -> None:
    files = [p for p in sorted(shipped_root().rglob("*")) if p.is_file() and p.parent != shipped_root()
             and "__pycache__" not in p.parts and p.suffix != ".md"]
    digests = [sha256(p) for p in files]
    assert len(set(digests)) == len(digests)


def test_ecg_v3_decodes_with_the_very_files_of_ecg_v2_whose_ids_it_lists() -> None:
    """ecg-v3 is ecg-v2 with another encoder: its decoder, codebooks and priors are ecg-v2's, stored once."""
    v2, v3 = load_bundle("ecg-v2"), load_bundle("ecg-v3")
    assert v2.model_id in v3.compatible_ids
    for f in DECODING_FILES:
        assert v3.file(f) == v2.file(f) == v2.path / f
    assert not (v3.path / "decoder.onnx").exists()
    assert json.loads((v3.path / MANIFEST).read_bytes())["files"]["decoder.onnx"] == sha256(v2.path / "decoder.onnx")


@pytest.mark.parametrize("name", EARLIER)
def test_compressing_with_an_earlier_model_is_one_clear_error(name: str) -> None:
    codec = Codec.load(name, threads=1)  # loads, for decoding
    with pytest.raises(BundleError, match=rf"^{name} is decode-only in this release .* compress with "
                                          rf"{ALIASES['ecg']}") as e:
        codec.compress(make_signal(2000))
    assert "\n" not in str(e.value)
    with pytest.raises(BundleError, match="decode-only"):
        api.compress(make_signal(2000), name)


def test_the_cli_refuses_to_write_with_an_earlier_model(cli: Runner, tmp_path: Path) -> None:
    write(tmp_path / "rec", make_signal(2000))
    line = assert_fails_cleanly(lambda: cli("compress", tmp_path / "rec.hea", "-o", tmp_path / "rec.vqc",
                                            "-m", "ecg-v2"), "ecg-v2", tmp_path)
    assert "decode-only" in line


def test_decoding_does_not_start_the_encoder(codec: Codec) -> None:
    """A fresh codec decodes without ever creating its encoder session (decode-only bundles have none)."""
    data = codec.compress(make_signal(2000))[0]
    fresh = Codec(codec.bundle, threads=1)
    assert isinstance(api.decompress(data, fresh), Signal)
    assert "_encoder" not in vars(fresh)


def copies(tmp_path: Path, *names: str) -> Path:
    """Copies of shipped bundles side by side in tmp_path/models; returns that folder."""
    root = tmp_path / "models"
    for name in names:
        shutil.copytree(shipped_root() / name, root / name)
    return root


def test_a_file_stored_once_is_found_beside_and_verified_there(tmp_path: Path) -> None:
    root = copies(tmp_path, "ecg-v2", "ecg-v3")
    assert load_bundle(root / "ecg-v3").file("decoder.onnx") == root / "ecg-v2" / "decoder.onnx"
    raw = bytearray((root / "ecg-v2" / "codebooks.npy").read_bytes())
    raw[-1] ^= 0x01
    (root / "ecg-v2" / "codebooks.npy").write_bytes(bytes(raw))
    with pytest.raises(BundleError, match=r"ecg-v2/codebooks.npy: missing, or its sha256 does not match"):
        load_bundle(root / "ecg-v3")


def test_a_file_beside_with_other_bytes_is_not_taken(tmp_path: Path) -> None:
    """ecg-v1 has a decoder.onnx too, but not the one ecg-v3's manifest names: ecg-v3 alone lacks its decoding files."""
    root = copies(tmp_path, "ecg-v1", "ecg-v3")
    with pytest.raises(BundleError, match=r"ecg-v3/(codebooks.npy|decoder.onnx|priors.npy): missing"):
        load_bundle(root / "ecg-v3")


def test_a_decode_only_bundle_still_needs_every_decoding_file(tmp_path: Path) -> None:
    root = copies(tmp_path, "ecg-v2")
    (root / "ecg-v2" / "priors.npy").unlink()
    with pytest.raises(BundleError, match=r"priors.npy: missing"):
        load_bundle(root / "ecg-v2")


def test_a_bundle_folder_without_its_encoder_names_itself_when_asked_to_compress(tmp_path: Path) -> None:
    root = copies(tmp_path, "ecg-v4")
    for f in ENCODER_FILES:
        (root / "ecg-v4" / f).unlink()
    codec = Codec.load(root / "ecg-v4", threads=1)
    with pytest.raises(BundleError, match=rf"^{root / 'ecg-v4'}: decode-only bundle \(no encoder.onnx or "
                                          r"code_bits.npy\)"):
        codec.compress(make_signal(2000))


def test_a_bundle_with_an_extra_file_loads_with_the_same_id(tmp_path: Path) -> None:
    """A model card (or any file the manifest does not list) beside manifest.json changes nothing."""
    root = copies(tmp_path, "ecg-v2", "midi-v1")
    for name in ("ecg-v2", "midi-v1"):
        (root / name / "MODEL_CARD.md").write_text(f"# {name}\n")
    assert load_bundle(root / "ecg-v2").model_id == load_bundle("ecg-v2").model_id
    assert NoteCodec.load(root / "midi-v1").model_id == NoteCodec.load("midi-v1").model_id
    np.testing.assert_array_equal(load_bundle(root / "ecg-v2").codebooks, load_bundle("ecg-v2").codebooks)

"""midi-vq (vqcodec.midi.vq and vqcodec.midi.tokens) with the shipped bundle's real ONNX graphs: round trips keep
pitch exact and every onset within its level's bound, tokens give back what decompress gives, bad tokens files are
refused in one line (the 1.13 golden files: tests/container/test_golden.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.helpers.notes import random_performance
from vqcodec.errors import FormatError, InputError, ModelMismatchError
from vqcodec.io.midi import read_midi, write_midi
from vqcodec.metrics import _rank_pairs
from vqcodec.midi import file as midi_file
from vqcodec.midi import tokens as midi_tokens
from vqcodec.midi import vq
from vqcodec.midi.codec import NoteCodec
from vqcodec.midi.performance import Performance


@pytest.fixture(scope="module")
def codec() -> vq.VqNoteCodec:
    c = NoteCodec.load("midi-vq", threads=1)
    assert isinstance(c, vq.VqNoteCodec)
    return c


@pytest.fixture(scope="module")
def perf() -> Performance:
    return random_performance(200, seed=3)


def _onset_errors_ms(a: Performance, b: Performance) -> np.ndarray:
    i, j = _rank_pairs(a, b)
    return np.abs(a.onset[i] - b.onset[j]) * 1000


@pytest.mark.parametrize("quality", [1, None])
def test_a_round_trip_keeps_pitch_exact_and_every_onset_within_the_bound(codec: vq.VqNoteCodec, perf: Performance,
                                                                         quality: int | None) -> None:
    data, report = codec.compress(perf, quality, name="p")
    assert data[10] == midi_file.VQ_NOTES_MINOR  # the container's minor: VQN1 needs it
    back = codec.decompress(data, "p")
    q = codec.default_quality if quality is None else quality
    level = codec.level_of(q)
    assert sorted(back.pitch.tolist()) == sorted(perf.pitch.tolist())
    assert report.pitch_exact
    bound = max(level.onset_bound_ms, level.anchor_ms / 2)
    assert _onset_errors_ms(perf, back).max() <= bound + 1e-6
    assert np.all((back.velocity >= 1) & (back.velocity <= 127))
    assert report.onset_err_ms_max <= bound + 1e-6
    assert back.pedals.keys() == perf.pedals.keys()  # as the grid coder keeps them (on its grid, at the level's depth)


def test_the_cli_round_trip_goes_through_the_container(cli, tmp_path: Path, perf: Performance) -> None:  # noqa: ANN001
    mid = tmp_path / "p.mid"
    write_midi(mid, Performance(perf.pitch, perf.onset, perf.offset, perf.velocity))
    assert cli("compress", mid, "-o", tmp_path / "p.vqc", "--model", "midi-vq", "-q", "1").code == 0
    assert cli("decompress", tmp_path / "p.vqc", "-o", tmp_path / "back.mid").code == 0
    original, back = read_midi(mid), read_midi(tmp_path / "back.mid")
    assert sorted(back.pitch.tolist()) == sorted(original.pitch.tolist())
    assert _onset_errors_ms(original, back).max() <= 100 + 1  # the written MIDI file's ticks add < 1 ms


def test_tokens_detokenize_to_what_decompress_gives(codec: vq.VqNoteCodec, perf: Performance, tmp_path: Path) -> None:
    q = 2
    back = codec.decompress(codec.compress(perf, q).data)
    tok = midi_tokens.Tokens.from_bytes(midi_tokens.tokens(perf, codec, q).to_bytes())
    assert tok.indices.shape == (-(-len(perf) // codec.model.window), codec.level_of(q).stages, codec.model.frames)
    assert tok.model_id == codec.model_id and tok.codes == codec.model.n_codes
    again = midi_tokens.detokenize(tok, codec)
    for key in ("pitch", "onset", "offset", "velocity"):
        assert np.array_equal(getattr(again, key), getattr(back, key)), key
    assert again.pedals.keys() == back.pedals.keys()
    for c in back.pedals:
        assert np.array_equal(again.pedals[c].time, back.pedals[c].time)
        assert np.array_equal(again.pedals[c].value, back.pedals[c].value)


def test_the_tokens_cli_writes_and_reads_them(cli, tmp_path: Path) -> None:  # noqa: ANN001
    perf = random_performance(150, seed=5, long_gaps=False, pedals=False)
    mid = tmp_path / "p.mid"
    write_midi(mid, perf)
    assert cli("tokens", mid, "-o", tmp_path / "p.npz", "-q", "1").code == 0
    again = cli("tokens", mid, "-o", tmp_path / "p.npz", "-q", "1")
    assert again.code == 1 and "already exists" in again.stderr
    assert cli("detokenize", tmp_path / "p.npz", "-o", tmp_path / "back.mid").code == 0
    grid = cli("tokens", mid, "-o", tmp_path / "g.npz", "--model", "midi")  # the grid coder has no tokens
    assert grid.code == 1 and grid.stderr.count("\n") == 1 and "not a midi-vq model" in grid.stderr
    assert sorted(read_midi(tmp_path / "back.mid").pitch.tolist()) == sorted(read_midi(mid).pitch.tolist())


@pytest.mark.parametrize("case", ["not_npz", "missing_key", "other_model", "wrong_format"])
def test_a_bad_tokens_file_is_refused_in_one_line(cli, tmp_path: Path, codec: vq.VqNoteCodec,  # noqa: ANN001
                                                  case: str) -> None:
    path = tmp_path / "bad.npz"
    good = midi_tokens.tokens(random_performance(70, seed=1, pedals=False), codec, 1)
    if case == "not_npz":
        path.write_bytes(b"MThd not tokens")
    else:
        with np.load(__import__("io").BytesIO(good.to_bytes())) as z:
            arrays = {k: z[k] for k in z.files}
        if case == "missing_key":
            del arrays["indices"]
        elif case == "other_model":
            arrays["model_id"] = np.array("0" * 64)
        else:
            arrays["format"] = np.array("something-else")
        np.savez(path, **arrays)
    result = cli("detokenize", path, "-o", tmp_path / "out.mid")
    assert result.code == 1
    assert result.stderr.count("\n") == 1 and str(path) in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out.mid").exists()
    with pytest.raises((InputError, ModelMismatchError)):
        midi_tokens.detokenize(midi_tokens.Tokens.from_bytes(path.read_bytes(), str(path)), codec)


def test_a_file_whose_level_the_model_lacks_is_refused(codec: vq.VqNoteCodec, perf: Performance) -> None:
    payload = bytearray(codec.encode_payload(codec.codes(perf, 1), perf))
    payload[6:8] = (77).to_bytes(2, "little")  # the head's onset bound: a level the model does not have
    with pytest.raises(FormatError, match="not a level"):
        codec.decode_payload(bytes(payload), len(perf), "x")


def test_the_shipped_bundle_is_small(codec: vq.VqNoteCodec) -> None:
    assert sum(p.stat().st_size for p in codec.bundle.files.values() if p.parent == codec.bundle.path) < 1 << 20


def test_real_asap_pieces_keep_pitch_and_the_onset_bound(codec: vq.VqNoteCodec, data_dir: Path) -> None:
    folder = data_dir / "midi" / "asap"
    name = json.loads((folder / "SPLITS.json").read_text())["val"][0]
    perf = read_midi(folder / name)
    data, report = codec.compress(perf, name=name)
    back = codec.decompress(data, name)
    assert sorted(back.pitch.tolist()) == sorted(perf.pitch.tolist())
    assert _onset_errors_ms(perf, back).max() <= 100
    assert report.f1_onset is not None and report.f1_onset > 0.5

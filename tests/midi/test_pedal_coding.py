"""The MIDI pedal coding of format 1.15 (NOTE codings NC07 and NC08, `coder.PEDAL_CODING`, in vqcodec.midi.coder):
exact round trips whatever the pedals, the very pedals NC05 gives, the encoder's choice, the minor a file is stamped
with, and what a reader before 1.15 or a damaged file gets. The golden files: tests/container/test_golden.py."""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from tests.helpers.notes import assert_symbols_equal, random_performance
from vqcodec.errors import FormatError, VqcError
from vqcodec.midi import coder as nc
from vqcodec.midi import file as midi_file
from vqcodec.midi import vq
from vqcodec.midi.codec import NoteCodec
from vqcodec.midi.performance import SOFT, SUSTAIN, Pedal, Performance

PEDAL_PRIORS_SHA256 = "64485364c7f2b4118521572a1e2ec518d6d4b3c9a3f69e267520bb344eb3d5fa"
"""The tables of pedal coding 1 as shipped with format 1.15: frozen (files written with them decode with them)."""
OLD_CODINGS = (nc.NC02, nc.NC03, nc.NC04, nc.NOTE_CODING, nc.NC06)
"""What a reader before 1.15 reads."""


@cache
def midi_v1() -> NoteCodec:
    return NoteCodec.load("midi-v1")


def priors(q: int) -> dict[str, np.ndarray]:
    return midi_v1().bundle.priors(q)


def with_levels(q: int) -> nc.NoteSetting:
    """Level q's setting, with the pedal levels the shipped models write at it."""
    return midi_v1().setting(q)


def pedalled(seed: int, n: int = 200) -> Performance:
    """A random performance pedalled as a pianist does: at every few onsets CC64 is let up in a few steps of 20 ms
    and pressed again in steps 100 to 300 ms later, once held for over DIRECT grid steps (an escape); CC67 on/off."""
    base = random_performance(n, seed=seed, long_gaps=False, pedals=False)
    rng = np.random.default_rng(seed)
    changes = np.unique(base.onset[:: 4]) + rng.uniform(0.03, 0.12)
    times, values = [], []
    for t in changes:
        up = t + 0.02 * np.arange(4)
        down = up[-1] + rng.uniform(0.1, 0.3) + 0.02 * np.arange(3)
        times += [*up, *down]
        values += [100, 60, 20, 0, 40, 90, 127]
    end = float(base.end)
    times += [end + 0.1, end + 9.5]
    values += [0, 127]
    soft = np.sort(rng.uniform(0, end + 12, 6))
    return Performance(base.pitch, base.onset, base.offset, base.velocity,
                       {SUSTAIN: Pedal(times, values), SOFT: Pedal(soft, [127, 0] * 3)})


@pytest.mark.parametrize("q", [1, 3, 6, 7])
@pytest.mark.parametrize("case", ["random", "pedalled", "pedals only", "soft only", "no pedals"])
def test_nc07_round_trips_every_symbol_and_gives_the_pedals_nc05_gives(q: int, case: str) -> None:
    perf = {"random": lambda: random_performance(150, seed=q),
            "pedalled": lambda: pedalled(q),
            "pedals only": lambda: random_performance(0, seed=q),
            "soft only": lambda: Performance([60], [0.5], [1.0], [64], {SOFT: Pedal([0.2, 0.9, 4.0], [127, 0, 127])}),
            "no pedals": lambda: random_performance(50, seed=q, pedals=False)}[case]()
    s = with_levels(q)
    sym = nc.quantise(perf, s)
    new, old = nc.encode(sym, s, priors(q), nc.NC07), nc.encode(sym, s, priors(q))
    assert new[:4] == nc.NC07 and old[:4] == nc.NOTE_CODING
    back, s_back = nc.decode(new, len(sym.gap), priors(q), "new.vqc")
    before, _ = nc.decode(old, len(sym.gap), priors(q), "old.vqc")
    assert s_back == s
    for b in (back, before):
        assert_symbols_equal(b, sym, levels=True)
    np.testing.assert_array_equal(nc.rebuild(back, s).pedals[SUSTAIN].value if SUSTAIN in sym.pedals else [],
                                  nc.rebuild(before, s).pedals[SUSTAIN].value if SUSTAIN in sym.pedals else [])


def test_nc08_round_trips_with_the_neural_prior_and_decodes_what_nc06_does() -> None:
    codec = NoteCodec.load("midi-v2")
    q = codec.bundle.prior_quality
    s, pri, net = codec.setting(q), codec.bundle.priors(q), codec.bundle.prior()
    sym = nc.quantise(pedalled(5, 300), s)
    new = nc.encode(sym, s, pri, nc.NC08, net, lanes=2)
    old = nc.encode(sym, s, pri, nc.NC06, net, lanes=2)
    assert new[:4] == nc.NC08
    back, _ = nc.decode(new, len(sym.gap), pri, "new.vqc", net)
    assert_symbols_equal(back, nc.decode(old, len(sym.gap), pri, "old.vqc", net)[0], levels=True)
    assert_symbols_equal(back, sym, levels=True)
    with pytest.raises(FormatError, match="NC08 needs a neural prior"):
        nc.decode(new, len(sym.gap), pri, "new.vqc")


def test_the_pedal_coding_codes_real_like_pedalling_in_fewer_bits() -> None:
    q = 3
    s = with_levels(q)
    sym = nc.quantise(pedalled(11, 400), s)
    new = nc.stream_bits(sym, s, priors(q), nc.NC07)
    old = nc.stream_bits(sym, s, priors(q))
    assert new["pedal"] < old["pedal"]
    assert {k: v for k, v in new.items() if k != "pedal"} == {k: v for k, v in old.items() if k != "pedal"}
    assert nc.pedal_coding_pays(sym, s, priors(q))
    assert not nc.pedal_coding_pays(nc.quantise(random_performance(50, seed=1, pedals=False), s), s, priors(q))


def test_a_setting_without_tables_is_never_written_and_refused_when_read() -> None:
    s = nc.NoteSetting(7, 10, 1400, 12)
    assert nc.pedal_priors(s) is None
    sym = nc.quantise(pedalled(2), s)
    assert not nc.pedal_coding_pays(sym, s, priors(3))
    with pytest.raises(ValueError, match="no prior"):
        nc.encode(sym, s, priors(3), nc.NC07)
    good = with_levels(3)
    payload = bytearray(nc.encode(nc.quantise(pedalled(2), good), good, priors(3), nc.NC07))
    payload[4:6] = (7).to_bytes(2, "little")  # the grid, to one without tables
    with pytest.raises(FormatError, match="pedal coding 1 has no prior"):
        nc.decode(bytes(payload), 200, priors(3), "x.vqc")


def test_another_pedal_coding_and_a_damaged_stream_are_refused() -> None:
    s = with_levels(3)
    sym = nc.quantise(pedalled(3), s)
    payload = nc.encode(sym, s, priors(3), nc.NC07)
    at = nc._table_at(nc.NC07) - 1  # the pedal coding byte
    assert payload[at] == nc.PEDAL_CODING == 1
    for other in (0, 2, 255):
        with pytest.raises(FormatError, match=f"pedal coding {other} is not one this version reads"):
            nc.decode(payload[:at] + bytes([other]) + payload[at + 1 :], len(sym.gap), priors(3), "x.vqc")
    words = nc.payload_head_size(len(sym.pedals), nc.NC07)
    rng = np.random.default_rng(0)
    for pos in rng.integers(words, len(payload), 12):
        bad = bytearray(payload)
        bad[pos] ^= 0x10
        with pytest.raises(VqcError):
            nc.decode(bytes(bad), len(sym.gap), priors(3), "x.vqc")


def test_files_with_the_pedal_coding_are_stamped_1_15_and_a_reader_before_refuses_them(
        monkeypatch: pytest.MonkeyPatch) -> None:
    codec = NoteCodec.load("midi-v1")
    perf = pedalled(4, 150)
    data = codec.compress(perf, 1, name="p").data
    f = midi_file.loads(data, "p")
    assert f.notes[:4] == nc.NC07 and data[10] == midi_file.PEDAL_MINOR == 15
    assert midi_file.NOTE_CODING_MINORS[nc.NC07] == midi_file.NOTE_CODING_MINORS[nc.NC08] == 15
    monkeypatch.setattr(nc, "CODINGS", OLD_CODINGS)
    with pytest.raises(FormatError, match="NOTE coding b'NC07' is not one this version reads"):
        codec.decompress(data, "p")


def test_the_encoder_writes_the_old_pedals_where_the_new_coding_does_not_pay(monkeypatch: pytest.MonkeyPatch) -> None:
    codec = NoteCodec.load("midi-v1")
    perf = pedalled(6, 150)
    new = codec.compress(perf, 3, name="p").data
    monkeypatch.setattr(nc, "pedal_coding_pays", lambda *a: False)
    old = codec.compress(perf, 3, name="p").data
    assert midi_file.loads(old, "p").notes[:4] == nc.NOTE_CODING and old[10] == midi_file.EVENTS_MINOR
    assert len(new) < len(old)
    assert midi_file.notes_digest(codec.decompress(new, "p")) == midi_file.notes_digest(codec.decompress(old, "p"))


def test_midi_vq_codes_its_pedal_stream_nc07_where_it_pays(monkeypatch: pytest.MonkeyPatch) -> None:
    codec = NoteCodec.load("midi-vq", threads=1)
    assert isinstance(codec, vq.VqNoteCodec)
    assert vq._HEAD.size + vq._U32.size == midi_file.VQ_PEDAL_AT
    perf = pedalled(7, 150)
    q = max(q for q in codec.qualities if codec.pedal_levels(q) > 2)
    new = codec.compress(perf, q, name="p").data
    notes = midi_file.loads(new, "p").notes
    at = midi_file.VQ_PEDAL_AT + 4
    assert notes[:4] == b"VQN1" and notes[at : at + 4] == nc.NC07 and new[10] == midi_file.PEDAL_MINOR
    back = codec.decompress(new, "p")
    with monkeypatch.context() as m:
        m.setattr(nc, "pedal_coding_pays", lambda *a: False)
        old = codec.compress(perf, q, name="p").data
        assert midi_file.loads(old, "p").notes[at : at + 4] == nc.NOTE_CODING
        assert old[10] == midi_file.VQ_NOTES_MINOR
    assert len(new) < len(old)
    assert midi_file.notes_digest(back) == midi_file.notes_digest(codec.decompress(old, "p"))
    monkeypatch.setattr(nc, "CODINGS", OLD_CODINGS)
    with pytest.raises(FormatError, match="NOTE coding b'NC07' is not one this version reads"):
        codec.decompress(new, "p")


def test_the_tables_are_the_frozen_ones_and_cover_every_shipped_setting() -> None:
    path = Path(nc.__file__).with_name(nc.PEDAL_PRIORS)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == PEDAL_PRIORS_SHA256
    for model in ("midi-v1", "midi-v2", "midi-vq"):
        codec = NoteCodec.load(model)
        for q in codec.qualities:
            s = codec.setting(q)
            tables = nc.pedal_priors(s)
            assert tables is not None, (model, q)
            assert tables[0].shape == (nc.PEDAL_GAP_CONTEXTS, nc.DIRECT + 1)
            assert tables[1].shape == (nc.PEDAL_LEVEL_CONTEXTS, s.pedal_levels - 1 if s.pedal_levels > 2 else 0)


# --------------------------------------------------------------------------------------------------- real data


def _opening(perf: Performance, seconds: float) -> Performance:
    """The notes and pedal events of a piece's first seconds."""
    keep = perf.onset < seconds
    pedals = {c: Pedal(p.time[p.time < seconds], p.value[p.time < seconds]) for c, p in perf.pedals.items()}
    return Performance(perf.pitch[keep], perf.onset[keep], perf.offset[keep], perf.velocity[keep], pedals)


@pytest.mark.parametrize(("model", "qualities"), [("midi-v1", (1, 7)), ("midi-v2", (3,)), ("midi-vq", (3, 5))])
def test_real_asap_pedalling_round_trips_to_the_pedals_of_the_old_coding(data_dir: Path, model: str,
                                                                        qualities: tuple[int, ...],
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from vqcodec.io import read_midi

    folder = data_dir / "midi" / "asap"
    name = "Chopin__Ballades__4__ChenC04M.mid"  # of the val split: 371 CC64 events in its first 25 s
    assert name in json.loads((folder / "SPLITS.json").read_text())["val"]
    perf = _opening(read_midi(folder / name), 25.0)
    assert len(perf.pedals[SUSTAIN]) > 300
    codec = NoteCodec.load(model, threads=1)
    for q in qualities:
        new = codec.compress(perf, q, name="p").data
        assert new[10] == midi_file.PEDAL_MINOR
        back = codec.decompress(new, "p")
        with monkeypatch.context() as m:
            m.setattr(nc, "pedal_coding_pays", lambda *a: False)
            old = codec.compress(perf, q, name="p").data
        before = codec.decompress(old, "p")
        assert len(new) < len(old), (model, q)
        assert back.pedals.keys() == before.pedals.keys()
        for c in back.pedals:
            np.testing.assert_array_equal(back.pedals[c].time, before.pedals[c].time)
            np.testing.assert_array_equal(back.pedals[c].value, before.pedals[c].value)
        assert midi_file.notes_digest(back) == midi_file.notes_digest(before)



@pytest.mark.parametrize("cached", [True, False])
def test_ideal_bits_are_those_of_the_rows_the_encoder_codes_with(cached: bool) -> None:
    """`_Model.ideal_bits` (the encoder's choice of the pedal coding) sums what `rows` gives, without the rows."""
    rng = np.random.default_rng(9)
    counts = rng.integers(0, 50, (12, 9))
    for n in (0, 1, 31, 33, 500):
        ctx, x = rng.integers(0, 12, n), np.minimum(rng.geometric(0.3, n) - 1, 8)
        w = nc._Model(counts, cached).rows(ctx, x)
        want = float(-np.log2(w[np.arange(n), x] / w.sum(axis=1)).sum()) if n else 0.0
        assert nc._Model(counts, cached).ideal_bits(ctx, x) == pytest.approx(want, rel=1e-12, abs=1e-9)


def test_the_encoders_choice_is_the_one_the_bytes_make() -> None:
    """`pedal_coding_pays` measures ideal code lengths, and codes both ways only near a tie: the choice is the one
    the pedals alone coded both ways make."""
    empty = np.zeros(0, np.int64)
    for q, perf in [(1, pedalled(20)), (3, pedalled(21, 60)), (7, pedalled(22, 80)), (3, random_performance(80)),
                    (3, Performance([60], [0.5], [1.0], [64], {SUSTAIN: Pedal([0.2], [127])}))]:
        s = with_levels(q)
        sym = nc.quantise(perf, s)
        alone = nc.Symbols(empty, empty, empty, empty, sym.pedals, sym.depth)
        smaller = len(nc.encode(alone, s, priors(q), nc.NC07)) < len(nc.encode(alone, s, priors(q)))
        assert nc.pedal_coding_pays(sym, s, priors(q)) == smaller

"""The neural note prior (vqcodec.midi.prior) and NOTE coding NC06: integer graphs that onnxruntime and numpy compute
alike, CDFs that other arithmetic cannot move, exact round trips with lanes, and what a reader refuses.

Real ONNX graphs throughout: small random integer graphs (tests/helpers/note_prior.py) for the coder's paths, and
the shipped midi-v2 bundle's own graphs for the product's.
"""

from __future__ import annotations

import struct
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from tests.helpers.note_prior import FloatPrior, random_prior
from tests.helpers.notes import random_performance  # noqa: E402
from vqcodec.errors import ChecksumError, FormatError  # noqa: E402
from vqcodec.midi import coder as nc  # noqa: E402
from vqcodec.midi import file as midi_file  # noqa: E402
from vqcodec.midi import prior as P  # noqa: E402
from vqcodec.midi.codec import NoteCodec  # noqa: E402
from vqcodec.models.bundle import load_note_bundle  # noqa: E402

FIELDS = ("gap", "pitch", "velocity", "duration")


@cache
def codec() -> NoteCodec:
    return NoteCodec.load("midi")


def setting() -> nc.NoteSetting:
    c = codec()
    assert c.bundle.prior_quality == c.default_quality
    return c.setting(c.default_quality)


def priors() -> dict[str, np.ndarray]:
    return codec().bundle.priors(codec().default_quality)


def layout() -> P.Layout:
    return P.Layout(setting().velocity_levels, setting().duration_levels)


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> P.Prior:
    return random_prior(layout(), tmp_path_factory.mktemp("prior"))


@cache
def symbols(n: int = 400, seed: int = 0) -> nc.Symbols:
    return nc.quantise(random_performance(n, seed), setting())


def assert_same(a: nc.Symbols, b: nc.Symbols) -> None:
    for f in FIELDS:
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f), err_msg=f)
    assert list(a.pedals) == list(b.pedals)
    for c in a.pedals:
        np.testing.assert_array_equal(a.pedals[c], b.pedals[c])
        np.testing.assert_array_equal(a.depth[c], b.depth[c])


def graph_inputs(sym: nc.Symbols, lanes: int) -> tuple[P.InputsA, np.ndarray]:
    bounds = P.lane_bounds(len(sym.gap), lanes)
    a = P.inputs_a(sym.gap, sym.pitch, sym.velocity, bounds, layout(), nc._LaneMatcher)
    next_on, next_same = nc.next_tokens(sym.gap, sym.pitch)
    b = P.inputs_b(sym.gap, sym.pitch, sym.velocity, sym.duration, next_on, next_same, a.match_at, bounds, layout())
    return a, b


def all_logits(net: P.Prior, a: P.InputsA, b: np.ndarray, rows: slice = slice(None)) -> list[np.ndarray]:
    hidden, lg = net.run("gap", a.gap[rows])
    rel_index, onehot = P.pitch_extras(a.ref[rows], a.match_pitch[rows])
    _, lp = net.run("pitch", a.pitch[rows], hidden, rel_index, onehot, a.bucket[rows])
    _, lv = net.run("velocity", a.velocity[rows], hidden)
    _, ld = net.run("duration", b[rows])
    return [lg, lp, lv, ld]


def test_the_prior_knows_the_coder_s_escape_symbol() -> None:
    assert P.DIRECT == nc.DIRECT and P.N_NEXT > len(nc.NEXT_EDGES) and P.MATCH_BUCKETS == nc.N_MATCH + 1


@pytest.mark.parametrize("which", ["random", "shipped"])
def test_onnxruntime_computes_exactly_the_integer_reference(which: str, small: P.Prior) -> None:
    net = small if which == "random" else codec().bundle.prior()
    assert net is not None
    graphs = {g: P.load_graph(net.paths[g]) for g in P.GRAPHS}
    a, b = graph_inputs(symbols(), 3)
    hidden_ref, lg = P.reference(graphs["gap"], a.gap)
    rel_index, onehot = P.pitch_extras(a.ref, a.match_pitch)
    ref = [lg, P.reference(graphs["pitch"], a.pitch, hidden_ref, rel_index, onehot, a.bucket)[1],
           P.reference(graphs["velocity"], a.velocity, hidden_ref)[1], P.reference(graphs["duration"], b)[1]]
    got = all_logits(net, a, b)
    for r, g in zip(ref, got, strict=True):
        assert g.dtype == np.int32 and np.array_equal(r, g)
    assert len(np.unique(got[0], axis=0)) > 1  # the rows differ: the comparison is not vacuous
    # batch size and thread count change nothing: every sum is of integers
    one_by_one = [np.concatenate(x) for x in zip(*(all_logits(net, a, b, slice(i, i + 1)) for i in range(40)))]
    two = P.Prior(net.paths, net.shifts, net.exp_table, net.layout, threads=2)
    for r, g, t in zip(ref, one_by_one, all_logits(two, a, b, slice(0, 40)), strict=True):
        assert np.array_equal(r[:40], g) and np.array_equal(r[:40], t)


def test_the_integer_network_stays_in_the_ranges_no_kernel_saturates_on(small: P.Prior) -> None:
    for net in (small, codec().bundle.prior()):
        assert net is not None
        for g in P.GRAPHS:
            graph = P.load_graph(net.paths[g])
            assert graph.embed.dtype == np.uint8 and graph.embed.max() <= P.ACT_MAX
            for layer in [*graph.layers, *([graph.rel] if graph.rel else [])]:
                assert layer.w.dtype == np.int8 and np.abs(layer.w.astype(int)).max() <= P.W_MAX
                # every accumulator is below 2^24, so even a float32 engine would sum these integers exactly
                worst = P.ACT_MAX * np.abs(layer.w.astype(np.int64)).sum(axis=0).max() + np.abs(layer.bias).max()
                assert worst < 1 << 24


def test_the_mixture_with_recent_symbols_is_integer_and_keeps_every_symbol_codable() -> None:
    w = P.weights(np.array([[0, -800, -1600, 40], [5, 5, 5, 5]]), 0)
    recent = P.Recent(2, 4, window=2)
    for t, x in enumerate(([1, 3], [1, 0], [2, 0])):
        recent.push(t, np.arange(2), np.array(x))
    assert recent.counts.tolist() == [[0, 1, 1, 0], [2, 0, 0, 0]]  # the last 2 symbols of each lane
    assert np.array_equal(P.mixed(w, recent.counts, P.Mix()), w)
    m = P.mixed(w, recent.counts, P.Mix(P.MIX_ONE // 2, 2))
    assert m.dtype == np.int64 and (m >= 1).all()
    share = m / m.sum(axis=1, keepdims=True)
    alone = w / w.sum(axis=1, keepdims=True)
    assert share[0, 2] > 0.15 > alone[0, 2] and share[1, 0] > 0.45 > alone[1, 0]  # the cache's symbols gain


def test_the_integer_softmax_is_a_table_of_the_distance_to_the_row_s_largest_logit() -> None:
    logits = np.array([[0, -16 << 3, 5 << 3, -10**6], [7, 7, 7, 7]])
    w = P.weights(logits, 3)
    assert w[0, 2] == 1 << P.EXP_BITS and w[0, 0] == P.EXP_TABLE[5] and w[0, 1] == P.EXP_TABLE[21]
    assert w[0, 3] == P.EXP_TABLE[-1] == 1 and (w[1] == 1 << P.EXP_BITS).all()
    assert (np.diff(P.EXP_TABLE) <= 0).all()


@pytest.fixture(scope="module")
def mixing(tmp_path_factory: pytest.TempPathFactory) -> P.Prior:
    mix = {"gap": P.Mix(64, 16), "pitch": P.Mix(P.MIX_ONE, 3), "duration": P.Mix(1, 40)}
    return random_prior(layout(), tmp_path_factory.mktemp("mixing"), seed=1, mix=mix)


@pytest.mark.parametrize(("n", "lanes", "mix"), [(400, 1, False), (400, 5, False), (401, 64, False), (1, 1, False),
                                                 (0, 1, False), (400, 3, True), (70, 64, True)])
def test_nc06_round_trips_every_symbol_with_any_lane_count(small: P.Prior, mixing: P.Prior, n: int, lanes: int,
                                                           mix: bool) -> None:
    sym = symbols(n, seed=n)
    net = mixing if mix else small
    payload = nc.encode(sym, setting(), priors(), nc.NC06, net, lanes=min(lanes, max(n, 1)))
    assert payload[:4] == nc.NC06
    back, s = nc.decode(payload, n, priors(), "piece.vqc", net)
    assert s == setting()
    assert_same(back, sym)


def test_a_decoder_whose_arithmetic_is_off_by_less_than_half_a_unit_decodes_the_same(small: P.Prior) -> None:
    """The perturbation test: every accumulator computed in float32 and moved by up to 0.49 (another machine's
    kernels, summation order, fused multiply-adds, or a float engine) is rounded back to the same integer, so the
    CDFs, and the decoded notes, are the same; far larger damage is caught by the decoded-symbol CRC."""
    sym = symbols(400, seed=3)
    for net in (small, codec().bundle.prior()):
        assert net is not None
        payload = nc.encode(sym, setting(), priors(), nc.NC06, net, lanes=4)
        back, _ = nc.decode(payload, len(sym.gap), priors(), "piece.vqc", FloatPrior(net, 0.49))
        assert_same(back, sym)
    with pytest.raises((ChecksumError, FormatError)):
        nc.decode(payload, len(sym.gap), priors(), "piece.vqc", FloatPrior(net, 40.0))


def test_a_reader_refuses_nc06_without_a_prior_or_with_an_impossible_lane_count(small: P.Prior) -> None:
    sym = symbols(50, seed=1)
    payload = nc.encode(sym, setting(), priors(), nc.NC06, small, lanes=2)
    with pytest.raises(FormatError, match="NC06 needs a neural prior"):
        nc.decode(payload, 50, priors(), "piece.vqc")
    at = struct.calcsize("<4sHBHB") + 1  # the lanes byte, after the pedal levels
    for lanes in (0, nc.MAX_LANES + 1, 51):
        bad = payload[:at] + bytes([lanes]) + payload[at + 1 :]
        with pytest.raises(FormatError, match="lanes"):
            nc.decode(bad, 50, priors(), "piece.vqc", small)
    assert midi_file.NOTE_CODING_MINORS[nc.NC06] == midi_file.PRIOR_MINOR == 12


def test_the_default_level_writes_nc06_where_it_pays_and_decodes_to_what_nc05_gives() -> None:
    perf = random_performance(600, seed=7, long_gaps=False)
    new, old = codec(), NoteCodec.load("midi-v1")
    a, b = new.compress(perf, name="p"), old.compress(perf, name="p")
    coding = midi_file.loads(a.data, "p").notes[:4]
    assert coding in (nc.NC06, nc.NOTE_CODING)
    assert a.data[10] == (midi_file.PRIOR_MINOR if coding == nc.NC06 else midi_file.EVENTS_MINOR)
    assert len(a.data) <= len(b.data) + 32  # never worse than NC05 but for the header's model name and id
    back_new, back_old = new.decompress(a.data, "p"), old.decompress(b.data, "p")
    assert midi_file.notes_digest(back_new) == midi_file.notes_digest(back_old)  # the same symbols: same fidelity
    other = new.compress(perf, quality=1, name="p")
    assert midi_file.loads(other.data, "p").notes[:4] == nc.NOTE_CODING  # no prior for that level


def test_the_midi_v2_bundle_decodes_midi_v1_files_and_verifies_its_prior() -> None:
    v1, v2 = load_note_bundle("midi-v1"), load_note_bundle("midi-v2")
    assert v1.model_id in v2.compatible_ids and v1.compatible_ids <= v2.compatible_ids
    assert v1.prior() is None and v2.prior() is v2.prior()  # loaded once
    assert Path(v2.files["prior_gap.onnx"]).parent.name == "midi-v2"

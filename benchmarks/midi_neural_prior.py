"""Experiment: a neural prior (training/note_net.py) for the note streams against today's NC05 coder.

    python -m training.note_net extract --data ../shared/data --splits val,train
    nice -n 10 python -m training.note_net train --epochs 20 --window 256 --batch 16 --lr 3e-3
    python -m training.note_net export
    python benchmarks/midi_neural_prior.py --split val --json runs/note_net/val.json

Per stream (onset gap, pitch, velocity, duration; the default level's symbols as the encoder chooses them):
today's bits (NC05's adaptive models, ideal code length), the network's with its probabilities as 24-bit integer
frequencies (each >= 1), the network's with logits rounded to 1/8 nat and an integer exp table (the
machine-independent form), and mixtures of the network with today's models. Then: how often a 1e-4 perturbation
of the float logits, or running the ONNX graphs step by step instead of torch over the whole piece, changes an
integer CDF; and a real round trip (ONNX Runtime one note at a time, constriction rANS) with its notes/s.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from training import note_net as nn  # noqa: E402

ALPHAS = np.round(np.arange(0, 1.01, 0.1), 2)


def bits_of(p: np.ndarray, x: np.ndarray) -> np.ndarray:
    f = nn.int_freqs(p)
    return -np.log2(f[np.arange(len(x)), x] / (1 << nn.PRECISION))


def weights_bits(w: np.ndarray, x: np.ndarray) -> np.ndarray:
    return bits_of(w / w.sum(axis=1, keepdims=True), x)


def online_mix(pn: np.ndarray, pt: np.ndarray, x: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Bayesian mixture over linear mixes alpha in ALPHAS, posterior from this piece's past symbols (what a decoder
    knows), started uniform at each piece: p = sum_a post_a * (a pn + (1 - a) pt)."""
    out = np.zeros(len(x))
    for s, e in zip(offsets[:-1], offsets[1:]):
        a = ALPHAS[:, None]
        px_n, px_t = pn[np.arange(s, e), x[s:e]], pt[np.arange(s, e), x[s:e]]
        like = np.log(a * px_n + (1 - a) * px_t + 1e-300)  # [A, n]
        cum = np.concatenate([np.zeros((len(ALPHAS), 1)), np.cumsum(like, axis=1)[:, :-1]], axis=1)
        post = np.exp(cum - cum.max(axis=0))
        post /= post.sum(axis=0)
        alpha = (post * a).sum(axis=0)  # the mixture of linear mixes is the linear mix at the posterior mean
        out[s:e] = bits_of(alpha[:, None] * pn[s:e] + (1 - alpha[:, None]) * pt[s:e], x[s:e])
    return out


def table(d: dict, res: list[dict], alphas: dict | None) -> tuple[list[dict], dict]:
    n = int(d["offsets"][-1])
    rows, chosen = [], {}
    for k in nn.STREAMS:
        x = d["gap" if k == "onset" else k]
        pn = np.concatenate([r[k] for r in res])
        logits = np.concatenate([r["logits_" + k] for r in res])
        pt = d["today_" + k].astype(np.float64)
        pt /= pt.sum(axis=1, keepdims=True)
        today = d["today_bits_" + k].sum() / n
        net = bits_of(pn, x).sum() / n
        netq = weights_bits(nn.logit_weights(logits).astype(np.float64), x).sum() / n
        lin = {float(a): bits_of(a * pn + (1 - a) * pt, x).sum() / n for a in ALPHAS}
        a_best = alphas[k] if alphas else min(lin, key=lin.get)
        chosen[k] = a_best
        lin_b = lin[a_best] if a_best in lin else bits_of(a_best * pn + (1 - a_best) * pt, x).sum() / n
        geo = np.exp(0.5 * np.log(pn + 1e-30) + 0.5 * np.log(pt + 1e-30))
        geo_b = bits_of(geo / geo.sum(axis=1, keepdims=True), x).sum() / n
        onl = online_mix(pn, pt, x, d["offsets"]).sum() / n
        rows.append({"stream": k, "today": today, "net": net, "net_q": netq, "alpha": a_best, "mix_linear": lin_b,
                     "mix_geometric": geo_b, "mix_online": onl})
    return rows, chosen


def grid_sweep(d: dict, res: list[dict], steps=(1, 2, 4, 8, 16)) -> dict[int, dict]:  # noqa: ANN001
    """Per logit grid (1/step nat): bits/note of the 4 streams, and the fraction of notes whose integer weights
    change under a uniform perturbation of the float logits of 1e-4 and 1e-6."""
    n = int(d["offsets"][-1])
    rng = np.random.default_rng(0)
    out = {}
    for st in steps:
        bits, moved = 0.0, {1e-4: np.zeros(n, bool), 1e-6: np.zeros(n, bool)}
        for k in nn.STREAMS:
            x = d["gap" if k == "onset" else k]
            lg = np.concatenate([r["logits_" + k] for r in res]).astype(np.float64)
            w = nn.logit_weights(lg, st)
            bits += weights_bits(w.astype(np.float64), x).sum() / n
            for eps in moved:
                moved[eps] |= (w != nn.logit_weights(lg + rng.uniform(-eps, eps, lg.shape), st)).any(axis=1)
        out[st] = {"bits": bits, "moved_1e-4": float(moved[1e-4].mean()), "moved_1e-6": float(moved[1e-6].mean())}
    return out


def perturbation(res: list[dict], eps: float, seed: int = 0) -> dict[str, float]:
    """Fraction of notes whose integer weights (rounded logits) change in any stream when every float logit moves
    by up to eps; and for the unrounded path (24-bit frequencies straight from the softmax)."""
    rng = np.random.default_rng(seed)
    logits = {k: np.concatenate([r["logits_" + k] for r in res]).astype(np.float64) for k in nn.STREAMS}
    n = len(logits["onset"])
    any_q, any_f = np.zeros(n, bool), np.zeros(n, bool)
    per = {}
    for k, lg in logits.items():
        noisy = lg + rng.uniform(-eps, eps, lg.shape)
        dq = (nn.logit_weights(lg) != nn.logit_weights(noisy)).any(axis=1)
        sm = lambda z: np.exp(z - z.max(1, keepdims=True)) / np.exp(z - z.max(1, keepdims=True)).sum(1, keepdims=True)  # noqa: E731
        df = (nn.int_freqs(sm(lg)) != nn.int_freqs(sm(noisy))).any(axis=1)
        any_q |= dq
        any_f |= df
        per[k] = float(dq.mean())
    return {"rounded_logits_any": float(any_q.mean()), "float_freqs_any": float(any_f.mean())} | {
        f"rounded_{k}": v for k, v in per.items()}


class Steps:
    """The four ONNX graphs under ONNX Runtime (one thread)."""

    def __init__(self, folder: Path) -> None:
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads = so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        self.s = {k: ort.InferenceSession(str(folder / f"note_net_{k}.onnx"), so, providers=["CPUExecutionProvider"])
                  for k in nn.STEP_INPUTS}

    def __call__(self, name: str, **kw):  # noqa: ANN003, ANN204
        return self.s[name].run(None, kw)


def _i(v) -> np.ndarray:  # noqa: ANN001
    return np.asarray(v, np.int64).reshape(-1)


def run_piece(steps: Steps, h_a: int, h_b: int, s, n: int, symbols: dict | None, coder,  # noqa: ANN001, C901
              match: bool = False):
    """Encode (symbols given: returns the weights of every coded symbol in order) or decode (symbols None: reads
    them from `coder`) one piece, one note at a time, every feature computed from what is decoded so far."""
    from vqcodec.midi import coder as nc

    family = coder and __import__("constriction").stream.model.Categorical(perfect=False)
    plan = []

    def code(w: np.ndarray, x: int | None) -> int:
        if symbols is not None:
            plan.append((x, w))
            return x
        return int(coder.decode(family, w[None].astype(np.float64))[0])

    gap, pitch, vel, dur = (np.zeros(n, np.int64) for _ in range(4))
    ha = np.zeros((1, 1, h_a), np.float32)
    matcher = nn.Matcher()
    at = np.full(n, -1, np.int64)
    first_v = round(64 / s.velocity_step)
    g_prev, p_in, v_prev, p_prev = nn.K_GAP, nn.K_PITCH, nn.K_VEL, 60
    for i in range(n):
        pred, length, j = matcher.predict()
        at[i] = j
        mb = 1 + int(np.searchsorted(nc.MATCH_EDGES, length, side="right")) if pred >= 0 else 0
        extra = {"m_gap": _i(gap[j] if j >= 0 else nn.K_GAP), "m_vel": _i(vel[j] if j >= 0 else nn.K_VEL),
                 "m_bucket": _i(mb)} if match else {}
        ha, gl = steps("step_a", g_prev=_i(g_prev), p_in=_i(p_in), v_prev=_i(v_prev), h=ha, **extra)
        g = gap[i] = code(nn.logit_weights(gl)[0], None if symbols is None else int(symbols["gap"][i]))
        (pl,) = steps("pitch_a", h=ha, g=_i(g), p_prev=_i(p_prev), m_pred=_i(pred), m_bucket=_i(mb))
        p = pitch[i] = code(nn.logit_weights(pl)[0], None if symbols is None else int(symbols["pitch"][i]))
        matcher.add(p)
        near = nc._near_velocity(pitch, vel, i, first_v)
        (vl,) = steps("vel_a", h=ha, g=_i(g), p=_i(p), near=_i(near), rose=np.array([float(p > p_prev)], np.float32))
        v = vel[i] = code(nn.logit_weights(vl)[0], None if symbols is None else int(symbols["velocity"][i]))
        g_prev, p_in, v_prev, p_prev = g, p, v, p
    steps_on = np.cumsum(gap)
    nxt = np.searchsorted(nc.NEXT_EDGES, nc._next_onset(steps_on), side="right")
    same = np.searchsorted(nc.NEXT_EDGES, nc._next_same_pitch(steps_on, pitch), side="right")
    ngap = np.r_[gap[1:], nn.K_GAP]
    hb = np.zeros((1, 1, h_b), np.float32)
    d_prev = nn.K_DUR
    for i in range(n):
        extra = {"m_dur": _i(dur[at[i]] if at[i] >= 0 else nn.K_DUR)} if match else {}
        hb, dl = steps("step_b", d_prev=_i(d_prev), p=_i(pitch[i]), v=_i(vel[i]), g=_i(gap[i]), nxt=_i(nxt[i]),
                       same=_i(same[i]), ngap=_i(ngap[i]), h=hb, **extra)
        d_prev = dur[i] = code(nn.logit_weights(dl)[0], None if symbols is None else int(symbols["duration"][i]))
    return {"gap": gap, "pitch": pitch, "velocity": vel, "duration": dur}, plan


def round_trip(d: dict, piece: int, steps: Steps, ck: dict) -> dict:
    import constriction

    from vqcodec.midi.codec import NoteCodec

    codec = NoteCodec.load("midi")
    s = codec.setting(codec.default_quality)
    pc = nn._piece(d, piece)
    a, b = pc["_start"], pc["_end"]
    sym = {k: d[k][a:b] for k in ("gap", "pitch", "velocity", "duration")}
    t0 = time.perf_counter()
    _, plan = run_piece(steps, ck["h_a"], ck["h_b"], s, b - a, sym, None, ck.get("match", False))
    t1 = time.perf_counter()
    enc = constriction.stream.stack.AnsCoder()
    family = constriction.stream.model.Categorical(perfect=False)
    for x, w in reversed(plan):
        enc.encode_reverse(np.array([x], np.int32), family, w[None].astype(np.float64))
    words = enc.get_compressed()
    dec = constriction.stream.stack.AnsCoder(words)
    t2 = time.perf_counter()
    back, _ = run_piece(steps, ck["h_a"], ck["h_b"], s, b - a, None, dec, ck.get("match", False))
    t3 = time.perf_counter()
    same = all(np.array_equal(back[k], sym[k]) for k in sym)
    ideal = sum(-math.log2(w[x] / w.sum()) for x, w in plan)
    return {"piece": str(d["names"][piece]), "notes": int(b - a), "identical": bool(same),
            "coded_bits_per_note": 32 * len(words) / (b - a), "ideal_bits_per_note": ideal / (b - a),
            "encode_notes_per_s": (b - a) / (t1 - t0), "decode_notes_per_s": (b - a) / (t3 - t2)}


def lanes_speed(d: dict, steps: Steps, ck: dict, lanes: int, notes_per_lane: int) -> float:
    """Notes/s of the network + rANS decode with `lanes` lanes in lockstep (one ONNX call per graph and note
    position for all lanes; features taken from the data, so only the network and the coder are timed)."""
    import constriction

    rng = np.random.default_rng(0)
    n = notes_per_lane
    x = {k: rng.integers(0, kk, (n, lanes)) for k, kk in (("g", 40), ("p", 128), ("v", 14), ("d", 29))}
    family = constriction.stream.model.Categorical(perfect=False)
    coder = constriction.stream.stack.AnsCoder(np.random.default_rng(1).integers(1, 2**31, 20000).astype(np.uint32))
    ha = np.zeros((1, lanes, ck["h_a"]), np.float32)
    hb = np.zeros((1, lanes, ck["h_b"]), np.float32)
    z = np.zeros(lanes, np.int64)
    ea = {"m_gap": z + nn.K_GAP, "m_vel": z + nn.K_VEL, "m_bucket": z} if ck.get("match", False) else {}
    eb = {"m_dur": z + nn.K_DUR} if ck.get("match", False) else {}
    t0 = time.perf_counter()
    for i in range(n):
        ha, gl = steps("step_a", g_prev=x["g"][i - 1] if i else z + nn.K_GAP, p_in=x["p"][i - 1] if i else z + 128,
                       v_prev=x["v"][i - 1] if i else z + nn.K_VEL, h=ha, **ea)
        coder.decode(family, nn.logit_weights(gl).astype(np.float64))
        (pl,) = steps("pitch_a", h=ha, g=x["g"][i], p_prev=x["p"][i - 1] if i else z + 60, m_pred=z - 1, m_bucket=z)
        coder.decode(family, nn.logit_weights(pl).astype(np.float64))
        (vl,) = steps("vel_a", h=ha, g=x["g"][i], p=x["p"][i], near=x["v"][i], rose=np.zeros(lanes, np.float32))
        coder.decode(family, nn.logit_weights(vl).astype(np.float64))
        hb, dl = steps("step_b", d_prev=x["d"][i - 1] if i else z + nn.K_DUR, p=x["p"][i], v=x["v"][i], g=x["g"][i],
                       nxt=z, same=z, ngap=x["g"][i], h=hb, **eb)
        coder.decode(family, nn.logit_weights(dl).astype(np.float64))
    return n * lanes / (time.perf_counter() - t0)


def ort_vs_torch(d: dict, piece: int, steps: Steps, res: list[dict], ck: dict) -> dict:
    """Run the ONNX graphs note by note on a piece (true symbols fed back) and compare the rounded-logit weights
    with those of torch over the whole sequence: the float noise a different implementation brings."""
    from vqcodec.midi.codec import NoteCodec

    codec = NoteCodec.load("midi")
    s = codec.setting(codec.default_quality)
    pc = nn._piece(d, piece)
    a, b = pc["_start"], pc["_end"]
    sym = {k: d[k][a:b] for k in ("gap", "pitch", "velocity", "duration")}
    _, plan = run_piece(steps, ck["h_a"], ck["h_b"], s, b - a, sym, None, ck.get("match", False))
    n = b - a
    ws = [w for _, w in plan]
    stage_a = np.array(ws[: 3 * n], dtype=object).reshape(n, 3)
    ref = res[piece]
    differ = np.zeros(n, bool)
    for j, k in enumerate(("onset", "pitch", "velocity")):
        wt = nn.logit_weights(ref["logits_" + k])
        differ |= np.array([not np.array_equal(stage_a[i, j], wt[i]) for i in range(n)])
    wt = nn.logit_weights(ref["logits_duration"])
    differ |= np.array([not np.array_equal(ws[3 * n + i], wt[i]) for i in range(n)])
    return {"piece": str(d["names"][piece]), "notes": int(n), "notes_whose_weights_differ": int(differ.sum())}


def lane_bits(a, b, d: dict, lanes: int) -> float:  # noqa: ANN001
    """Bits/note (4 streams, 24-bit frequencies) when each piece is cut into `lanes` contiguous lanes whose GRU
    states start afresh (what lockstep decoding of lanes costs; the match and near-velocity features are left as
    computed over the whole piece, so this slightly flatters the lanes)."""
    torch = nn._torch()
    total = 0.0
    with torch.no_grad():
        for i in range(len(d["offsets"]) - 1):
            pc = nn._piece(d, i)
            cuts = np.linspace(pc["_start"], pc["_end"], lanes + 1).astype(int)
            for lo, hi in zip(cuts[:-1], cuts[1:]):
                if hi <= lo:
                    continue
                x = nn._batch([nn.inputs(pc | {"_start": int(lo)}, int(lo), int(hi))])
                logits, _, _ = nn.forward(a, b, x)
                for k in nn.STREAMS:
                    p = torch.softmax(logits[k][0].double(), -1).numpy()
                    total += bits_of(p, x[nn.TARGET[k]][0].numpy()).sum()
    return total / int(d["offsets"][-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--split", default="val")
    ap.add_argument("--model", type=Path, default=nn.RUNS / "model.pt")
    ap.add_argument("--alphas", type=Path, default=None, help="json of per-stream alphas chosen on val")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--speed", action="store_true", help="also the ONNX round trip, lanes and parity checks")
    args = ap.parse_args()
    a, b, ck = nn.load_model(args.model)
    d = nn.load_split(args.split)
    t0 = time.perf_counter()
    res = nn.predict(a, b, d)
    t_torch = time.perf_counter() - t0
    alphas = json.loads(args.alphas.read_text()) if args.alphas else None
    rows, chosen = table(d, res, alphas)
    n = int(d["offsets"][-1])
    params = sum(p.numel() for p in list(a.parameters()) + list(b.parameters()))
    out = {"split": args.split, "pieces": len(d["offsets"]) - 1, "notes": n, "rows": rows, "alphas": chosen,
           "escape_bits_per_note": float(d["today_bits_escape"].sum() / n),
           "pedal_bits_per_note": float(d["today_bits_pedal"].sum() / n), "parameters": int(params),
           "epoch": ck["epoch"], "train_s": ck["train_s"], "torch_whole_piece_notes_per_s": n / t_torch,
           "perturbation_1e-4": perturbation(res, 1e-4), "perturbation_1e-6": perturbation(res, 1e-6),
           "grid_sweep": grid_sweep(d, res)}
    print("| stream | today | net (24-bit) | net (logits 1/8 nat) | mix linear (alpha) | mix geometric | mix online |")
    for r in rows:
        print(f"| {r['stream']} | {r['today']:.3f} | {r['net']:.3f} | {r['net_q']:.3f} | {r['mix_linear']:.3f} "
              f"({r['alpha']}) | {r['mix_geometric']:.3f} | {r['mix_online']:.3f} |")
    tot = {k: sum(r[k] for r in rows) for k in ("today", "net", "net_q", "mix_linear", "mix_geometric", "mix_online")}
    print("| total (4 streams) | " + " | ".join(f"{v:.3f}" for v in tot.values()) + " |")
    print(json.dumps({k: v for k, v in out.items() if k != "rows"}, indent=1))
    if args.speed:
        steps = Steps(nn.RUNS)
        small = int(np.argmin(np.diff(d["offsets"])))
        out["round_trip"] = round_trip(d, small, steps, ck)
        print(out["round_trip"], flush=True)
        out["ort_vs_torch"] = ort_vs_torch(d, small, steps, res, ck)
        print(out["ort_vs_torch"], flush=True)
        out["lane_bits"] = {L: lane_bits(a, b, d, L) for L in (1, 8, 32)}
        print(out["lane_bits"], flush=True)
        out["lanes_notes_per_s"] = {L: lanes_speed(d, steps, ck, L, 300) for L in (1, 8, 32, 128)}
        print(out["lanes_notes_per_s"], flush=True)
    if args.json:
        args.json.write_text(json.dumps(out, indent=1, default=float))


if __name__ == "__main__":
    main()

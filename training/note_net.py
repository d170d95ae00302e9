"""Experiment: a small causal neural prior for the MIDI note streams, against today's NC05 coder.

Not part of the codec: it only reads vqcodec to get the symbols the default level codes and today's model's
probabilities, trains a GRU on the asap train pieces and measures bits/note on val (test only once, at the end).

    python -m training.note_net extract --data ../shared/data --splits val,train   # symbols, today's probabilities
    python -m training.note_net add-match --splits val,train                       # the match model's source note
    nice -n 10 python -m training.note_net train --match --epochs 20 --window 256 --batch 16 --lr 3e-3 \
        --h-a 192 --h-b 128 --out runs/note_net/model_h192_match.pt                # 15 min on a shared 2-core CPU
    python -m training.note_net export --out runs/note_net/model_h192_match.pt     # runs/note_net/note_net_*.onnx
    python benchmarks/midi_neural_prior.py --split val --model runs/note_net/model_h192_match.pt --speed

The symbols: the default level (quality 3: 16 ms grid, velocity step 10, duration ratio 1.4) as the encoder
writes them (`vqcodec.midi.choice.choose`, the rate-distortion choice), per note in NC05's streams:
gap (grid steps since the previous onset, 0..127, 128 = escape, whose excess NC05 codes apart), pitch 0..127,
velocity level 0..13, duration level 0..28. Pedals are left to today's coder.

Factorisation (the decoding order a product would use, like NC05's: notes first, durations after):
  stage A, a GRU over notes (with --match its step also sees the gap and velocity of the note that followed the
           match model's earlier occurrence): gap_i | notes < i;
           pitch_i | gap_i, notes < i (+ NC05's match prediction);
           velocity_i | pitch_i, gap_i, notes < i (+ the velocity of the latest nearby pitch, as NC05)
  stage B, a GRU over notes once every onset and pitch is known (as NC05's duration context; --match: and the
           matched note's duration):
           duration_i | durations < i, note i, steps to the next onset and to the next onset of its pitch.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np

RUNS = Path("runs/note_net")
ASAP = Path("midi/asap")
K_GAP, K_PITCH, K_VEL, K_DUR = 129, 128, 14, 29
STREAMS = ("onset", "pitch", "velocity", "duration")
K = {"onset": K_GAP, "pitch": K_PITCH, "velocity": K_VEL, "duration": K_DUR}
N_NEXT = 16  # buckets of NEXT_EDGES (15 edges + the last)
MATCH_BUCKETS = 6  # 0: no prediction, 1..5: NC05's match-length buckets
PRECISION = 24  # constriction's Categorical (default AnsCoder): 24-bit probabilities


# ---------------------------------------------------------------- extraction (uses the codec read-only)

def _today_pitch(sym, pri):  # noqa: ANN001, ANN202
    """Per note: today's full pitch distribution (hit flag and miss model combined into one distribution),
    today's bits for the pitch as NC05 codes it, and the match model's prediction and length."""
    from vqcodec.midi import coder as nc

    n = len(sym.pitch)
    hits, misses, matcher = nc._Model(pri["pitch_hit"]), nc._Model(pri["pitch_miss"]), nc._Matcher()
    dist = np.zeros((n, K_PITCH), np.float32)
    bits = np.zeros(n)
    pred_a = np.full(n, -1, np.int64)
    len_a = np.zeros(n, np.int64)
    prev = nc.START_PITCH
    for i in range(n):
        x, ch = int(sym.pitch[i]), int(sym.gap[i] == 0)
        pred, length = matcher.predict()
        pred_a[i], len_a[i] = pred, length
        mctx = prev * 2 + ch
        mw = misses.weights(mctx)[0]
        pm = mw / mw.sum()
        if pred >= 0:
            hctx = int(nc._hit_context(length, ch))
            hw = hits.weights(hctx)[0]
            ph = hw[1] / hw.sum()
            d = (1 - ph) * pm
            d[pred] += ph
            hit = int(x == pred)
            bits[i] = -math.log2(hw[hit] / hw.sum()) + (0.0 if hit else -math.log2(pm[x]))
            hits.update(hctx, hit)
        else:
            d, hit = pm, 0
            bits[i] = -math.log2(pm[x])
        if not hit:
            misses.update(mctx, x)
        dist[i] = d
        prev = x
        matcher.add(x)
    return dist, bits, pred_a, len_a


def extract_piece(perf, s, pri, with_today: bool = True) -> dict[str, np.ndarray]:  # noqa: ANN001
    from vqcodec.midi import choice
    from vqcodec.midi import coder as nc

    sym = choice.choose(perf, s, pri)
    n = len(sym.gap)
    steps = np.cumsum(sym.gap)
    out = {"gap": np.minimum(sym.gap, nc.DIRECT), "pitch": sym.pitch, "velocity": sym.velocity,
           "duration": sym.duration,
           "next_on": np.searchsorted(nc.NEXT_EDGES, nc._next_onset(steps), side="right"),
           "next_same": np.searchsorted(nc.NEXT_EDGES, nc._next_same_pitch(steps, sym.pitch), side="right"),
           "near_v": np.array([nc._near_velocity(sym.pitch, sym.velocity, i, round(64 / s.velocity_step))
                               for i in range(n)], np.int64)}
    dist, pbits, pred, length = _today_pitch(sym, pri)
    out["match_pred"] = pred
    out["match_bucket"] = np.where(pred >= 0, 1 + np.searchsorted(nc.MATCH_EDGES, length, side="right"), 0)
    if with_today:
        plan = nc._plan(sym, s, pri)
        seen_onset = False
        bits = dict.fromkeys(("onset_escape", "pedal"), 0.0)
        for name, symbols, weights in plan:
            if not len(symbols):
                if name == "onset":
                    seen_onset = True
                continue
            p = weights[np.arange(len(symbols)), symbols] / weights.sum(axis=1)
            if name == "onset" and not seen_onset:
                out["today_onset"] = (weights / weights.sum(axis=1, keepdims=True)).astype(np.float32)
                out["today_bits_onset"] = -np.log2(p)
                seen_onset = True
            elif name == "onset":
                bits["onset_escape"] += float(-np.log2(p).sum())
            elif name in ("velocity", "duration"):
                out[f"today_{name}"] = (weights / weights.sum(axis=1, keepdims=True)).astype(np.float32)
                out[f"today_bits_{name}"] = -np.log2(p)
            elif name == "pedal":
                bits["pedal"] += float(-np.log2(p).sum())
        out["today_pitch"] = dist
        out["today_bits_pitch"] = pbits
        out["today_bits_escape"] = np.array([bits["onset_escape"]])
        out["today_bits_pedal"] = np.array([bits["pedal"]])
    return {k: np.asarray(v) for k, v in out.items()}


def extract(data: Path, splits: list[str]) -> None:
    from vqcodec.io.midi import read_midi
    from vqcodec.midi.codec import NoteCodec

    codec = NoteCodec.load("midi")
    q = codec.default_quality
    s, pri = codec.setting(q), codec.bundle.priors(q)
    assert (s.velocity_levels, s.duration_levels) == (K_VEL, K_DUR), s
    RUNS.mkdir(parents=True, exist_ok=True)
    names_all = json.loads((data / ASAP / "SPLITS.json").read_text())
    for split in splits:
        t0 = time.time()
        pieces = []
        for name in names_all[split]:
            pieces.append(extract_piece(read_midi(data / ASAP / name), s, pri, with_today=split != "train"))
        keys = pieces[0].keys()
        arrays = {k: np.concatenate([p[k] for p in pieces]) for k in keys}
        arrays["offsets"] = np.cumsum([0] + [len(p["gap"]) for p in pieces])
        np.savez(RUNS / f"{split}.npz", **arrays, names=np.array(names_all[split]))
        print(f"{split}: {len(pieces)} pieces, {arrays['offsets'][-1]} notes, {time.time() - t0:.0f} s", flush=True)


def load_split(split: str) -> dict[str, np.ndarray]:
    with np.load(RUNS / f"{split}.npz") as z:
        return {k: z[k] for k in z.files}



# ---------------------------------------------------------------- the network

def _torch():  # noqa: ANN202
    import torch

    torch.set_num_threads(1)
    return torch


def build(h_a: int = 128, h_b: int = 96, match: bool = False):  # noqa: ANN201
    """match: the GRU steps also take what followed the match model's earlier occurrence (its gap and velocity
    in stage A, its duration in stage B) and the match length's bucket."""
    torch = _torch()
    nn = torch.nn

    class StageA(nn.Module):
        """GRU over notes: per note, gap logits, then pitch logits given the gap, then velocity logits given both."""

        def __init__(self) -> None:
            super().__init__()
            self.e_gap, self.e_pitch, self.e_vel = (nn.Embedding(K_GAP + 1, 24), nn.Embedding(K_PITCH + 1, 40),
                                                    nn.Embedding(K_VEL + 1, 12))
            self.match = match
            if match:
                self.m_gap, self.m_vel, self.m_bucket = (nn.Embedding(K_GAP + 1, 16), nn.Embedding(K_VEL + 1, 8),
                                                         nn.Embedding(MATCH_BUCKETS, 4))
            self.gru = nn.GRU(24 + 40 + 12 + (28 if match else 0), h_a, batch_first=True)
            self.gap_head = nn.Sequential(nn.Linear(h_a, 128), nn.ReLU(), nn.Linear(128, K_GAP))
            self.p_gap = nn.Embedding(K_GAP, 16)
            self.p_hid = nn.Sequential(nn.Linear(h_a + 16, 128), nn.ReLU())
            self.p_abs, self.p_rel = nn.Linear(128, K_PITCH), nn.Linear(128, 97)
            self.match_bias = nn.Embedding(MATCH_BUCKETS, 1)
            self.v_gap, self.v_pitch, self.v_near = (nn.Embedding(K_GAP, 8), nn.Embedding(K_PITCH, 16),
                                                     nn.Embedding(K_VEL, 8))
            self.v_head = nn.Sequential(nn.Linear(h_a + 8 + 16 + 8 + 1, 64), nn.ReLU(), nn.Linear(64, K_VEL))

        def step_in(self, g_prev, p_prev, v_prev, m_gap=None, m_vel=None, m_bucket=None):  # noqa: ANN001, ANN202
            parts = [self.e_gap(g_prev), self.e_pitch(p_prev), self.e_vel(v_prev)]
            if self.match:
                parts += [self.m_gap(m_gap), self.m_vel(m_vel), self.m_bucket(m_bucket)]
            return torch.cat(parts, -1)

        def gap_logits(self, h):  # noqa: ANN001, ANN202
            return self.gap_head(h)

        def pitch_logits(self, h, g, p_prev, m_pred, m_bucket):  # noqa: ANN001, ANN202
            z = self.p_hid(torch.cat([h, self.p_gap(g)], -1))
            j = torch.arange(K_PITCH, device=h.device)
            d = j - p_prev.unsqueeze(-1)  # [..., 128] interval of each candidate
            idx = torch.where(d.abs() <= 48, d + 48, torch.full_like(d, 97))
            rel = torch.cat([self.p_rel(z), torch.zeros_like(z[..., :1])], -1)
            out = self.p_abs(z) + torch.gather(rel, -1, idx)
            hit = (j == m_pred.unsqueeze(-1)).to(out.dtype)
            return out + hit * self.match_bias(m_bucket)

        def vel_logits(self, h, g, p, near, rose):  # noqa: ANN001, ANN202
            parts = [h, self.v_gap(g), self.v_pitch(p), self.v_near(near), rose.unsqueeze(-1)]
            return self.v_head(torch.cat(parts, -1))

    class StageB(nn.Module):
        """GRU over notes once onsets, pitches and velocities are known: duration logits."""

        def __init__(self) -> None:
            super().__init__()
            self.e_dur, self.e_pitch, self.e_vel = (nn.Embedding(K_DUR + 1, 16), nn.Embedding(K_PITCH, 16),
                                                    nn.Embedding(K_VEL, 8))
            self.e_gap, self.e_next, self.e_same, self.e_ngap = (nn.Embedding(K_GAP, 8), nn.Embedding(N_NEXT, 12),
                                                                 nn.Embedding(N_NEXT, 12), nn.Embedding(K_GAP + 1, 8))
            self.match = match
            if match:
                self.m_dur = nn.Embedding(K_DUR + 1, 8)
            self.gru = nn.GRU(16 + 16 + 8 + 8 + 12 + 12 + 8 + (8 if match else 0), h_b, batch_first=True)
            self.head = nn.Sequential(nn.Linear(h_b + 12 + 12, 96), nn.ReLU(), nn.Linear(96, K_DUR))

        def step_in(self, d_prev, p, v, g, nxt, same, ngap, m_dur=None):  # noqa: ANN001, ANN202
            parts = [self.e_dur(d_prev), self.e_pitch(p), self.e_vel(v), self.e_gap(g), self.e_next(nxt),
                     self.e_same(same), self.e_ngap(ngap)]
            if self.match:
                parts.append(self.m_dur(m_dur))
            return torch.cat(parts, -1)

        def logits(self, h, nxt, same):  # noqa: ANN001, ANN202
            return self.head(torch.cat([h, self.e_next(nxt), self.e_same(same)], -1))

    return StageA(), StageB()


def inputs(d: dict[str, np.ndarray], lo: int, hi: int, shift: int = 0) -> dict[str, np.ndarray]:
    """The network's integer inputs and targets for notes lo..hi of one piece (a transposition `shift`)."""
    g, p, v, du = d["gap"][lo:hi], d["pitch"][lo:hi] + shift, d["velocity"][lo:hi], d["duration"][lo:hi]
    mp = d["match_pred"][lo:hi]
    p_prev = np.r_[60 + shift if lo == d["_start"] else d["pitch"][lo - 1] + shift, p[:-1]]
    end = d["_end"]
    ngap = np.r_[g[1:], K_GAP if hi >= end else d["gap"][hi]]
    return {"g": g, "p": p, "v": v, "d": du,
            "g_prev": np.r_[K_GAP if lo == d["_start"] else d["gap"][lo - 1], g[:-1]],
            "p_in": np.r_[K_PITCH if lo == d["_start"] else d["pitch"][lo - 1] + shift, p[:-1]],
            "v_prev": np.r_[K_VEL if lo == d["_start"] else d["velocity"][lo - 1], v[:-1]],
            "d_prev": np.r_[K_DUR if lo == d["_start"] else d["duration"][lo - 1], du[:-1]],
            "p_prev": p_prev, "m_pred": np.where(mp >= 0, mp + shift, -1), "m_bucket": d["match_bucket"][lo:hi],
            "near": d["near_v"][lo:hi], "rose": (p > p_prev).astype(np.float32),
            "nxt": d["next_on"][lo:hi], "same": d["next_same"][lo:hi], "ngap": ngap} | _matched(d, lo, hi)


def _matched(d: dict[str, np.ndarray], lo: int, hi: int) -> dict[str, np.ndarray]:
    """What followed the match model's earlier occurrence (index match_at, -1: none; absolute in the split)."""
    if "match_at" not in d:
        return {}
    j = d["match_at"][lo:hi]
    ok = j >= 0
    jj = np.where(ok, j, 0)
    return {"m_gap": np.where(ok, d["gap"][jj], K_GAP), "m_vel": np.where(ok, d["velocity"][jj], K_VEL),
            "m_dur": np.where(ok, d["duration"][jj], K_DUR)}


def _piece(d: dict[str, np.ndarray], i: int) -> dict[str, np.ndarray]:
    a, b = int(d["offsets"][i]), int(d["offsets"][i + 1])
    return {k: d[k] for k in ("gap", "pitch", "velocity", "duration", "match_pred", "match_bucket", "near_v",
                              "next_on", "next_same", "match_at") if k in d} | {"_start": a, "_end": b}


def forward(a, b, x: dict, ha=None, hb=None):  # noqa: ANN001, ANN201
    """Logits of every stream [B, T, K] for a batch of note windows (dict of [B, T] tensors)."""
    za, ha = a.gru(a.step_in(x["g_prev"], x["p_in"], x["v_prev"], x.get("m_gap"), x.get("m_vel"), x.get("m_bucket")),
                   ha)
    out = {"onset": a.gap_logits(za),
           "pitch": a.pitch_logits(za, x["g"], x["p_prev"], x["m_pred"], x["m_bucket"]),
           "velocity": a.vel_logits(za, x["g"], x["p"], x["near"], x["rose"])}
    zb, hb = b.gru(b.step_in(x["d_prev"], x["p"], x["v"], x["g"], x["nxt"], x["same"], x["ngap"], x.get("m_dur")), hb)
    out["duration"] = b.logits(zb, x["nxt"], x["same"])
    return out, ha, hb


TARGET = {"onset": "g", "pitch": "p", "velocity": "v", "duration": "d"}


def _batch(rows: list[dict]) -> dict:
    torch = _torch()
    out = {}
    for k in rows[0]:
        arr = np.stack([r[k] for r in rows])
        out[k] = torch.from_numpy(arr.astype(np.float32 if k == "rose" else np.int64))
    return out


def train(epochs: int, window: int, batch: int, lr: float, h_a: int, h_b: int, seed: int, out: Path,
          match: bool = False) -> None:
    torch = _torch()
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    tr, va = load_split("train"), load_split("val")
    n_train = int(tr["offsets"][-1])
    a, b = build(h_a, h_b, match)
    params = list(a.parameters()) + list(b.parameters())
    print(f"parameters {sum(p.numel() for p in params)}; train notes {n_train}", flush=True)
    opt = torch.optim.Adam(params, lr=lr)
    steps_per_epoch = max(1, n_train // (window * batch))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, lr, total_steps=epochs * steps_per_epoch, pct_start=0.1)
    pieces = [_piece(tr, i) for i in range(len(tr["offsets"]) - 1)]
    lengths = np.array([p["_end"] - p["_start"] for p in pieces])
    t0 = time.time()
    best = float("inf")
    for ep in range(epochs):
        a.train(), b.train()
        tot = dict.fromkeys(STREAMS, 0.0)
        for _ in range(steps_per_epoch):
            rows = []
            for i in rng.choice(len(pieces), batch, p=lengths / lengths.sum()):
                pc = pieces[i]
                lo = pc["_start"] + int(rng.integers(0, max(1, lengths[i] - window)))
                hi = min(lo + window, pc["_end"])
                lo = max(pc["_start"], hi - window)
                p_rng = pc["pitch"][lo:hi]
                shift = int(rng.integers(max(-6, -int(p_rng.min())), min(6, 127 - int(p_rng.max())) + 1))
                rows.append(inputs(pc, lo, hi, shift))
            x = _batch(rows)
            logits, _, _ = forward(a, b, x)
            losses = {k: torch.nn.functional.cross_entropy(logits[k].reshape(-1, K[k]), x[TARGET[k]].reshape(-1))
                      for k in STREAMS}
            loss = sum(losses.values())
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            sched.step()
            for k in STREAMS:
                tot[k] += float(losses[k].detach()) / math.log(2) / steps_per_epoch
        vb = evaluate_bits(a, b, va)
        vtot = sum(vb.values())
        print(f"epoch {ep + 1} {time.time() - t0:.0f}s train " + " ".join(f"{k} {v:.3f}" for k, v in tot.items())
              + " | val " + " ".join(f"{k} {v:.3f}" for k, v in vb.items()) + f" total {vtot:.3f}", flush=True)
        if vtot < best:
            best = vtot
            torch.save({"a": a.state_dict(), "b": b.state_dict(), "h_a": h_a, "h_b": h_b, "match": match,
                        "epoch": ep + 1, "val_bits": vb, "train_s": time.time() - t0}, out)


def predict(a, b, d: dict[str, np.ndarray]) -> list[dict[str, np.ndarray]]:  # noqa: ANN001
    """Per piece of a split: each stream's float64 probabilities [n, K], whole pieces, state carried."""
    torch = _torch()
    a.eval(), b.eval()
    res = []
    with torch.no_grad():
        for i in range(len(d["offsets"]) - 1):
            pc = _piece(d, i)
            x = _batch([inputs(pc, pc["_start"], pc["_end"])])
            logits, _, _ = forward(a, b, x)
            res.append({k: torch.softmax(logits[k][0].double(), -1).numpy() for k in STREAMS}
                       | {"logits_" + k: logits[k][0].numpy() for k in STREAMS})
    return res


def int_freqs(p: np.ndarray, precision: int = PRECISION) -> np.ndarray:
    """Probabilities [n, K] -> integer frequencies summing to 2^precision, each >= 1 (every symbol codable):
    what a fixed-point rANS model would be given."""
    k = p.shape[1]
    total = 1 << precision
    f = np.floor(p * (total - k)).astype(np.int64) + 1
    f[np.arange(len(f)), f.argmax(1)] += total - f.sum(1)
    return f


def coded_bits(p: np.ndarray, x: np.ndarray) -> float:
    f = int_freqs(p)
    return float(-np.log2(f[np.arange(len(x)), x] / (1 << PRECISION)).sum())


def evaluate_bits(a, b, d: dict[str, np.ndarray]) -> dict[str, float]:  # noqa: ANN001
    """Bits/note of each stream on a split with the network's probabilities as 24-bit integer frequencies."""
    res = predict(a, b, d)
    n = int(d["offsets"][-1])
    out = {}
    for k in STREAMS:
        x = d["gap" if k == "onset" else k]
        out[k] = coded_bits(np.concatenate([r[k] for r in res]), x) / n
    return out


def load_model(path: Path):  # noqa: ANN201
    torch = _torch()
    ck = torch.load(path, map_location="cpu")
    a, b = build(ck["h_a"], ck["h_b"], ck.get("match", False))
    a.load_state_dict(ck["a"]), b.load_state_dict(ck["b"])
    a.eval(), b.eval()
    return a, b, ck



# ---------------------------------------------------------------- ONNX: one note at a time

def step_modules(a, b):  # noqa: ANN001, ANN201
    """The four graphs a decoder runs per note: stage A's GRU step + gap logits, pitch logits, velocity logits;
    stage B's GRU step + duration logits. Inputs [B] int64 (B lanes), states [1, B, H]."""
    torch = _torch()
    nn = torch.nn

    class StepA(nn.Module):
        def forward(self, g_prev, p_in, v_prev, h, m_gap=None, m_vel=None, m_bucket=None):  # noqa: ANN001, ANN202
            z, h2 = a.gru(a.step_in(g_prev, p_in, v_prev, m_gap, m_vel, m_bucket).unsqueeze(1), h)
            return h2, a.gap_logits(z[:, 0])

    class PitchA(nn.Module):
        def forward(self, h, g, p_prev, m_pred, m_bucket):  # noqa: ANN001, ANN202
            return a.pitch_logits(h[0], g, p_prev, m_pred, m_bucket)

    class VelA(nn.Module):
        def forward(self, h, g, p, near, rose):  # noqa: ANN001, ANN202
            return a.vel_logits(h[0], g, p, near, rose)

    class StepB(nn.Module):
        def forward(self, d_prev, p, v, g, nxt, same, ngap, h, m_dur=None):  # noqa: ANN001, ANN202
            z, h2 = b.gru(b.step_in(d_prev, p, v, g, nxt, same, ngap, m_dur).unsqueeze(1), h)
            return h2, b.logits(z[:, 0], nxt, same)

    return StepA(), PitchA(), VelA(), StepB()


STEP_INPUTS = {
    "step_a": ["g_prev", "p_in", "v_prev", "h"],
    "pitch_a": ["h", "g", "p_prev", "m_pred", "m_bucket"],
    "vel_a": ["h", "g", "p", "near", "rose"],
    "step_b": ["d_prev", "p", "v", "g", "nxt", "same", "ngap", "h"],
}


def step_inputs(match: bool) -> dict[str, list[str]]:
    if not match:
        return STEP_INPUTS
    return STEP_INPUTS | {"step_a": STEP_INPUTS["step_a"] + ["m_gap", "m_vel", "m_bucket"],
                          "step_b": STEP_INPUTS["step_b"] + ["m_dur"]}


class Matcher:
    """NC05's match model (vqcodec.midi.coder._Matcher, used as is) that also says where its prediction is from:
    the index of the note that followed the earlier occurrence (-1: no match)."""

    def __init__(self) -> None:
        from vqcodec.midi import coder as nc

        self.nc, self.m = nc, nc._Matcher()

    def predict(self) -> tuple[int, int, int]:
        """(predicted pitch, match length, index of the predicting note) as _Matcher.predict, or (-1, 0, -1)."""
        m, nc = self.m, self.nc
        i = len(m.seq)
        for k in nc.MATCH_ORDERS:
            if i < k:
                continue
            j = int(m.tables[k][m._slot(k)])
            if j >= 0 and m.seq[j - k : j] == m.seq[i - k :]:
                n = 0
                while n < nc.MATCH_MAX and j - 1 - n >= 0 and m.seq[j - 1 - n] == m.seq[i - 1 - n]:
                    n += 1
                return m.seq[j], n, j
        return -1, 0, -1

    def add(self, pitch: int) -> None:
        self.m.add(pitch)


def add_match(split: str) -> None:
    """Add `match_at` (absolute index of the note the match model's prediction comes from, -1: none) to a split."""
    d = load_split(split)
    at = np.full(int(d["offsets"][-1]), -1, np.int64)
    for s, e in zip(d["offsets"][:-1], d["offsets"][1:]):
        m = Matcher()
        for i in range(s, e):
            pred, _, j = m.predict()
            assert pred == d["match_pred"][i]
            at[i] = j + s if j >= 0 else -1
            m.add(int(d["pitch"][i]))
    d["match_at"] = at
    np.savez(RUNS / f"{split}.npz", **d)
    print(split, "matches", float((at >= 0).mean()))


def export(model: Path, folder: Path = RUNS) -> dict[str, Path]:
    torch = _torch()
    a, b, ck = load_model(model)
    for p in list(a.parameters()) + list(b.parameters()):
        p.requires_grad_(False)
    mods = dict(zip(STEP_INPUTS, step_modules(a, b)))
    bsz = 2
    i64 = lambda: torch.zeros(bsz, dtype=torch.int64)  # noqa: E731
    ha, hb = torch.zeros(1, bsz, ck["h_a"]), torch.zeros(1, bsz, ck["h_b"])
    examples = {"step_a": (i64(), i64(), i64(), ha), "pitch_a": (ha, i64(), i64(), i64() - 1, i64()),
                "vel_a": (ha, i64(), i64(), i64(), torch.zeros(bsz)),
                "step_b": (i64(), i64(), i64(), i64(), i64(), i64(), i64(), hb)}
    paths = {}
    if ck.get("match", False):
        examples["step_a"] += (i64(), i64(), i64())
        examples["step_b"] += (i64(),)
    for name, m in mods.items():
        names = step_inputs(ck.get("match", False))[name]
        outs = ["h_out", "logits"] if name.startswith("step") else ["logits"]
        axes = {n: ({1: "lanes"} if n == "h" else {0: "lanes"}) for n in names}
        axes |= {o: ({1: "lanes"} if o == "h_out" else {0: "lanes"}) for o in outs}
        paths[name] = folder / f"note_net_{name}.onnx"
        torch.onnx.export(m, examples[name], str(paths[name]), input_names=names, output_names=outs,
                          dynamic_axes=axes, opset_version=17, dynamo=False)
    print({k: v.stat().st_size for k, v in paths.items()})
    return paths


LOGIT_STEP = 8
"""Logits are rounded to 1/LOGIT_STEP nat before they become integer weights (an integer table of exp)."""
EXP_BITS = 20
EXP_TABLE = np.maximum(1, np.round((1 << EXP_BITS) * np.exp(-np.arange(LOGIT_STEP * 24) / LOGIT_STEP))).astype(np.int64)
"""Integer weight of a logit k/LOGIT_STEP nat below the row's largest (down to 24 nat, then 1): the same integers
on every machine, so equal rounded logits give equal CDFs everywhere."""


def exp_table(step: int) -> np.ndarray:
    return np.maximum(1, np.round((1 << EXP_BITS) * np.exp(-np.arange(step * 24) / step))).astype(np.int64)


def logit_weights(logits: np.ndarray, step: int = LOGIT_STEP) -> np.ndarray:
    """Float logits [n, K] -> integer weights [n, K] (>= 1) by rounding to the 1/step nat grid."""
    table = EXP_TABLE if step == LOGIT_STEP else exp_table(step)
    q = np.floor(np.asarray(logits, np.float64) * step + 0.5).astype(np.int64)
    down = np.minimum(q.max(axis=1, keepdims=True) - q, len(table) - 1)
    return table[down]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("cmd", choices=("extract", "add-match", "train", "export"))
    ap.add_argument("--data", type=Path, default=Path("../shared/data"))
    ap.add_argument("--splits", default="val,train")
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--window", type=int, default=256)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--h-a", type=int, default=128)
    ap.add_argument("--h-b", type=int, default=96)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--match", action="store_true", help="the match model's gap/velocity/duration as inputs")
    ap.add_argument("--out", type=Path, default=RUNS / "model.pt")
    args = ap.parse_args()
    if args.cmd == "extract":
        extract(args.data, args.splits.split(","))
    elif args.cmd == "add-match":
        for split in args.splits.split(","):
            add_match(split)
    elif args.cmd == "train":
        train(args.epochs, args.window, args.batch, args.lr, args.h_a, args.h_b, args.seed, args.out, args.match)
    elif args.cmd == "export":
        export(args.out)


if __name__ == "__main__":
    main()

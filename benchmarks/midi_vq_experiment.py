"""Can a VQ-VAE over windows of notes pay for its index bits by sharpening the NOTE coder's context models?

Per note (after notecoder.quantise at NoteSetting(16, 10, 1400), in quantise's order) the VQ-VAE sees
log1p(gap steps), duration level, velocity level (plus pitch, which the encoder knows anyway) and learns to
reconstruct the first three from one codebook index per H notes. The gap prediction uses the indices only;
in the "+pitch" configurations the velocity and duration predictions also see every pitch of the piece, which
the NOTE coder has decoded by then (its order is onset, pitch, velocity, duration), so the pitch stream keeps
its context and nothing is reordered. "K=1 +pitch" has no index at all: it measures what a pitch-only
predictor gives, i.e. how much of a "+pitch" gain the VQ indices do not earn. Then, on val:

* baseline: static conditional entropy of each stream given notecoder.contexts, table fitted on TRAIN
  (add-one, as the coder's prior_weights does);
* with VQ: the same given (context, bucket of the VQ-VAE's prediction for that note), table fitted on TRAIN
  predictions (backoff smoothing: Dirichlet prior of mass BETA centred on the train-fitted baseline row;
  add-one reported as well); a val-fitted table (optimistic) is reported beside;
* index cost: bits of the val indices under a train-fitted bigram (backed off to an add-one unigram) / H;
* as the real adaptive coder would code it: notecoder._Model with the train counts (baseline) or the backoff
  table (with VQ) as prior, fresh counts per piece.

    nohup python benchmarks/midi_vq_experiment.py --data /work/shared/data > vq.log 2>&1 &

Uses train and val only (never test). One torch thread; about 3-4 minutes of training per configuration.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from vqcodec.io.midi import read_midi
from vqcodec.midi.coder import (
    DIRECT,
    ESCAPE_BYTES,
    NoteSetting,
    Symbols,
    _Model,
    contexts,
    count,
    pedal_contexts,
    quantise,
    stream_symbols,
)

SETTING = NoteSetting(16, 10, 1400)
ASAP = Path("midi/asap")
WINDOW = 64
BATCH = 32
CHANNELS = 64
DIM = 16
LR = 1e-3
COMMIT = 0.25
BETA = 16.0  # backoff mass of the with-VQ tables, in notes
STREAMS = ("onset", "velocity", "duration")  # the streams the VQ-VAE predicts (targets 0, 2, 1 below)
GAP_CAP = 1000  # gap steps fed to the net are capped here (log1p)
GAP_BUCKETS = 12  # bucket of predicted log1p(gap): round(2 * pred), 0..11
ESCAPE_BITS = 8 * ESCAPE_BYTES


@dataclass(frozen=True)
class Config:
    h: int
    k: int
    pitch: bool  # decoder sees the pitches

    @property
    def name(self) -> str:
        return f"H={self.h} K={self.k}" + (" +pitch" if self.pitch else "")


CONFIGS = (Config(8, 64, False), Config(16, 256, False), Config(8, 256, True), Config(8, 1, True))


# ---------------------------------------------------------------- data

def load(root: Path, split: str) -> list[Symbols]:
    folder = root / ASAP
    names = json.loads((folder / "SPLITS.json").read_text())[split]
    assert split in ("train", "val")
    return [quantise(read_midi(folder / n), SETTING) for n in names]


def raw_features(sym: Symbols) -> np.ndarray:
    """[N, 5]: log1p(gap), duration level, velocity level (the targets), pitch, pitch interval."""
    gap = np.log1p(np.minimum(sym.gap, GAP_CAP).astype(np.float64))
    interval = np.clip(np.diff(sym.pitch, prepend=sym.pitch[0]), -24, 24)
    return np.stack([gap, sym.duration, sym.velocity, sym.pitch, interval], 1).astype(np.float32)


# ---------------------------------------------------------------- model

class EmaVQ(nn.Module):
    def __init__(self, k: int, d: int, decay: float = 0.99) -> None:
        super().__init__()
        self.k, self.decay = k, decay
        self.register_buffer("embed", torch.zeros(k, d))
        self.register_buffer("size", torch.ones(k))
        self.register_buffer("total", torch.zeros(k, d))
        self.register_buffer("usage", torch.ones(k))  # fast EMA of uses per step, to find dead codes
        self.register_buffer("ready", torch.zeros((), dtype=torch.bool))

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        b, d, t = z.shape
        flat = z.permute(0, 2, 1).reshape(-1, d)
        if self.training and not self.ready:
            self.embed.copy_(flat[torch.randint(len(flat), (self.k,))].detach())
            self.total.copy_(self.embed)
            self.ready.fill_(True)
        dist = (flat.pow(2).sum(1, keepdim=True) - 2 * flat @ self.embed.T + self.embed.pow(2).sum(1))
        idx = dist.argmin(1)
        q = self.embed[idx]
        if self.training:
            with torch.no_grad():
                hot = F.one_hot(idx, self.k).type(flat.dtype)
                self.size.mul_(self.decay).add_(hot.sum(0), alpha=1 - self.decay)
                self.total.mul_(self.decay).add_(hot.T @ flat, alpha=1 - self.decay)
                n = self.size.sum()
                size = (self.size + 1e-5) / (n + self.k * 1e-5) * n
                self.embed.copy_(self.total / size[:, None])
                self.usage.mul_(0.9).add_(hot.sum(0), alpha=0.1)
                dead = self.usage < 0.02  # unused for ~40 steps
                if dead.any():  # restart unused codes on random encoder outputs of this batch
                    pick = flat[torch.randint(len(flat), (int(dead.sum()),))].detach()
                    self.embed[dead] = pick
                    self.total[dead] = pick
                    self.size[dead] = 1.0
                    self.usage[dead] = 1.0
        commit = F.mse_loss(flat, q.detach())
        q = flat + (q - flat).detach()
        return q.reshape(b, t, d).permute(0, 2, 1), idx.reshape(b, t), commit


def _block(c_in: int, c_out: int, k: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv1d(c_in, c_out, k, padding=k // 2), nn.GELU())


class NoteVQVAE(nn.Module):
    def __init__(self, cfg: Config) -> None:
        super().__init__()
        self.cfg = cfg
        steps = int(math.log2(cfg.h))
        enc: list[nn.Module] = [_block(5, CHANNELS, 5)]
        for _ in range(steps):
            enc += [nn.Conv1d(CHANNELS, CHANNELS, 4, stride=2, padding=1), nn.GELU(), _block(CHANNELS, CHANNELS, 3)]
        # the batch norm keeps the latents' spread at unit scale, so the codebook cannot collapse at the start
        self.encoder = nn.Sequential(*enc, nn.Conv1d(CHANNELS, DIM, 1), nn.BatchNorm1d(DIM, affine=False))
        self.vq = EmaVQ(cfg.k, DIM)
        dec: list[nn.Module] = [_block(DIM, CHANNELS, 3)]
        for _ in range(steps):
            dec += [nn.ConvTranspose1d(CHANNELS, CHANNELS, 4, stride=2, padding=1), nn.GELU(),
                    _block(CHANNELS, CHANNELS, 3)]
        self.up = nn.Sequential(*dec)
        self.pitch_net = nn.Sequential(_block(2, CHANNELS, 5), _block(CHANNELS, CHANNELS, 5)) if cfg.pitch else None
        self.head_gap = nn.Sequential(_block(CHANNELS, CHANNELS, 5), nn.Conv1d(CHANNELS, 1, 1))
        self.head_vd = nn.Sequential(_block(CHANNELS, CHANNELS, 5), nn.Conv1d(CHANNELS, 2, 1))
        for mod in self.modules():  # He init: PyTorch's default shrinks the signal ~3x a layer in this stack
            if isinstance(mod, (nn.Conv1d, nn.ConvTranspose1d)):
                nn.init.kaiming_normal_(mod.weight, nonlinearity="relu", mode="fan_in"
                                        if isinstance(mod, nn.Conv1d) else "fan_out")
                nn.init.zeros_(mod.bias)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """x [B, 5, T] normalised, T a multiple of H -> (prediction of channels 0..2, indices, commit loss).

        The gap prediction comes from the indices alone; duration and velocity may also use the pitches,
        which the NOTE coder has decoded before them (order: onset, pitch, velocity, duration)."""
        q, idx, commit = self.vq(self.encoder(x))
        y = self.up(q)
        gap = self.head_gap(y)
        if self.pitch_net is not None:
            y = y + self.pitch_net(x[:, 3:5])
        return torch.cat([gap, self.head_vd(y)], 1), idx, commit


# ---------------------------------------------------------------- training

class Norm:
    def __init__(self, feats: list[np.ndarray]) -> None:
        allf = np.concatenate(feats)
        self.mean, self.std = allf.mean(0), allf.std(0) + 1e-6

    def __call__(self, f: np.ndarray) -> np.ndarray:
        return (f - self.mean) / self.std


def _padded(x: np.ndarray, h: int) -> torch.Tensor:
    """[N, 5] normalised -> [1, 5, ceil(N/h)*h] (padding: zeros, the mean)."""
    n = len(x)
    pad = -n % h
    return torch.from_numpy(np.pad(x, ((0, pad), (0, 0)))).T[None]


@torch.no_grad()
def predict(model: NoteVQVAE, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Whole piece -> (normalised predictions [N, 3], indices [ceil(N/H)])."""
    model.eval()
    y, idx, _ = model(_padded(x, model.cfg.h))
    return y[0].T[: len(x)].numpy(), idx[0].numpy()


def val_mse(model: NoteVQVAE, xs: list[np.ndarray]) -> float:
    err = [((predict(model, x)[0] - x[:, :3]) ** 2).sum() for x in xs]
    return float(sum(err) / sum(len(x) for x in xs) / 3)


def train(cfg: Config, xs: list[np.ndarray], vals: list[np.ndarray], steps: int, seed: int, log) -> NoteVQVAE:
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = NoteVQVAE(cfg)
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, LR, total_steps=steps, pct_start=0.05)
    long = [x for x in xs if len(x) >= WINDOW]
    weight = np.array([len(x) - WINDOW + 1 for x in long], np.float64)
    weight /= weight.sum()
    best, best_state, t0 = math.inf, None, time.time()
    for step in range(1, steps + 1):
        model.train()
        pieces = rng.choice(len(long), BATCH, p=weight)
        batch = np.stack([long[p][(o := rng.integers(len(long[p]) - WINDOW + 1)) : o + WINDOW] for p in pieces])
        x = torch.from_numpy(batch).permute(0, 2, 1)
        y, _, commit = model(x)
        loss = F.mse_loss(y, x[:, :3]) + COMMIT * commit
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % 500 == 0 or step == steps:
            v = val_mse(model, vals)
            used = len(np.unique(np.concatenate([predict(model, x)[1] for x in vals])))
            log(f"  {cfg.name} step {step} loss {loss.item():.4f} val mse {v:.4f} val codes used {used} "
                f"({time.time() - t0:.0f} s)")
            if v < best:
                best, best_state = v, {k: t.clone() for k, t in model.state_dict().items()}
    model.load_state_dict(best_state)
    return model


# ---------------------------------------------------------------- coding costs

def buckets(pred: np.ndarray, norm: Norm) -> dict[str, np.ndarray]:
    """Normalised predictions [N, 3] -> the bucket per note of each predicted stream."""
    p = pred * norm.std[:3] + norm.mean[:3]
    return {"onset": np.clip(np.floor(2 * p[:, 0] + 0.5), 0, GAP_BUCKETS - 1).astype(np.int64),
            "duration": np.clip(np.floor(p[:, 1] + 0.5), 0, SETTING.duration_levels - 1).astype(np.int64),
            "velocity": np.clip(np.floor(p[:, 2] + 0.5), 0, SETTING.velocity_levels - 1).astype(np.int64)}


N_BUCKETS = {"onset": GAP_BUCKETS, "duration": SETTING.duration_levels, "velocity": SETTING.velocity_levels}


def table(ctx: list[np.ndarray], sym: list[np.ndarray], n_ctx: int, k: int) -> np.ndarray:
    t = np.zeros((n_ctx, k))
    np.add.at(t, (np.concatenate(ctx), np.concatenate(sym)), 1)
    return t


def bits(prob: np.ndarray, ctx: list[np.ndarray], sym: list[np.ndarray]) -> float:
    c, s = np.concatenate(ctx), np.concatenate(sym)
    return float(-np.log2(prob[c, s]).sum())


def add_one(t: np.ndarray) -> np.ndarray:
    return (t + 1) / (t.sum(1, keepdims=True) + t.shape[1])


def adaptive_bits(prior: np.ndarray, ctx: list[np.ndarray], sym: list[np.ndarray]) -> float:
    """What notecoder's adaptive model pays (train counts as prior, fresh counts per piece)."""
    total = 0.0
    for c, s in zip(ctx, sym):
        w = _Model(prior.astype(np.int64)).rows(c, s)
        total += float(-np.log2(w[np.arange(len(s)), s] / w.sum(1)).sum())
    return total


@dataclass
class StreamData:
    ctx: list[np.ndarray]
    sym: list[np.ndarray]


def base_streams(syms: list[Symbols]) -> dict[str, StreamData]:
    out = {}
    for name in ("onset", "pitch", "velocity", "duration"):
        out[name] = StreamData([contexts(s, SETTING)[name] for s in syms], [stream_symbols(s)[name] for s in syms])
    return out


def valfit_bits(v: np.ndarray) -> float:
    """Bits of the counts table `v` under its own row frequencies (the val-fitted lower bound)."""
    return float(-(v * np.log2(np.where(v > 0, v / np.maximum(v.sum(1, keepdims=True), 1), 1))).sum())


def stream_costs(tr: dict[str, StreamData], va: dict[str, StreamData]) -> dict[str, dict[str, float]]:
    """Baseline bits (total over val) per stream: static train-fitted, val-fitted, adaptive."""
    shapes = SETTING.streams()
    out = {}
    for name, (n_ctx, k) in shapes.items():
        if name == "pedal":
            continue
        t = table(tr[name].ctx, tr[name].sym, n_ctx, k)
        v = table(va[name].ctx, va[name].sym, n_ctx, k)
        out[name] = {"static": bits(add_one(t), va[name].ctx, va[name].sym),
                     "valfit": valfit_bits(v),
                     "adaptive": adaptive_bits(t, va[name].ctx, va[name].sym)}
    return out


def vq_costs(tr: dict[str, StreamData], va: dict[str, StreamData], tr_b: dict[str, list[np.ndarray]],
             va_b: dict[str, list[np.ndarray]]) -> dict[str, dict[str, float]]:
    out = {}
    for name in STREAMS:
        n_ctx, k = SETTING.streams()[name]
        nb = N_BUCKETS[name]
        base = add_one(table(tr[name].ctx, tr[name].sym, n_ctx, k))
        trc = [c * nb + b for c, b in zip(tr[name].ctx, tr_b[name])]
        vac = [c * nb + b for c, b in zip(va[name].ctx, va_b[name])]
        t = table(trc, tr[name].sym, n_ctx * nb, k)
        backoff = (t + BETA * np.repeat(base, nb, axis=0)) / (t.sum(1, keepdims=True) + BETA)
        v = table(vac, va[name].sym, n_ctx * nb, k)
        out[name] = {"static": bits(backoff, vac, va[name].sym), "addone": bits(add_one(t), vac, va[name].sym),
                     "valfit": valfit_bits(v),
                     # the adaptive coder's prior: the backoff table (prior_weights scales each row to 128 notes)
                     "adaptive": adaptive_bits(np.round(backoff * 2**20), vac, va[name].sym)}
    return out


def index_bits(tr: list[np.ndarray], va: list[np.ndarray], k: int) -> tuple[float, float]:
    """(bigram backed off to unigram, unigram) bits of the val indices, train-fitted; start context k."""
    uni = np.zeros(k)
    big = np.zeros((k + 1, k))
    for i in tr:
        np.add.at(uni, i, 1)
        np.add.at(big, (np.r_[k, i[:-1]], i), 1)
    u = (uni + 1) / (uni.sum() + k)
    b = (big + BETA * u) / (big.sum(1, keepdims=True) + BETA)
    bb = sum(float(-np.log2(b[np.r_[k, i[:-1]], i]).sum()) for i in va)
    ub = sum(float(-np.log2(u[i]).sum()) for i in va)
    return bb, ub


# ---------------------------------------------------------------- main

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--steps", type=int, default=8000, help="training steps per configuration")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--configs", default="all", help="comma-separated indices into CONFIGS, or 'all'")
    ap.add_argument("--out", type=Path, default=None, help="also write the numbers here as JSON")
    args = ap.parse_args()
    torch.set_num_threads(1)
    t0 = time.time()

    def log(msg: str) -> None:
        print(f"[{time.time() - t0:6.0f} s] {msg}", flush=True)

    train_syms, val_syms = load(args.data, "train"), load(args.data, "val")
    n_val = sum(len(s.gap) for s in val_syms)
    log(f"train {sum(len(s.gap) for s in train_syms)} notes, val {n_val} notes")
    tr, va = base_streams(train_syms), base_streams(val_syms)
    # onset escapes (raw bytes, uniform) and pedal: the same with and without the VQ-VAE
    esc = ESCAPE_BITS * sum(int((s.gap >= DIRECT).sum()) for s in val_syms)
    pedal_counts = sum(count(s, SETTING)["pedal"] for s in train_syms)
    pedal_val = [np.concatenate(list(s.pedals.values()) or [np.zeros(0, np.int64)]) for s in val_syms]
    pedal_ctx = [np.concatenate([pedal_contexts(g) for g in s.pedals.values()] or [np.zeros(0, np.int64)])
                 for s in val_syms]
    pedal_static = bits(add_one(pedal_counts.astype(float)), pedal_ctx, [np.minimum(p, DIRECT) for p in pedal_val])
    base = stream_costs(tr, va)
    base["onset"] = {k: v + esc for k, v in base["onset"].items()}
    log("baseline bits/note (static train-fitted | val-fitted | adaptive): " + ", ".join(
        f"{n} {c['static'] / n_val:.3f} | {c['valfit'] / n_val:.3f} | {c['adaptive'] / n_val:.3f}"
        for n, c in base.items())
        + f", pedal static {pedal_static / n_val:.3f}")

    raw_tr, raw_va = [raw_features(s) for s in train_syms], [raw_features(s) for s in val_syms]
    norm = Norm(raw_tr)
    xs, vals = [norm(f) for f in raw_tr], [norm(f) for f in raw_va]
    chosen = CONFIGS if args.configs == "all" else [CONFIGS[int(i)] for i in args.configs.split(",")]
    results = {"setting": [SETTING.grid_ms, SETTING.velocity_step, SETTING.duration_milli], "val_notes": n_val,
               "steps": args.steps, "beta": BETA,
               "baseline": {n: {k: v / n_val for k, v in c.items()} for n, c in base.items()},
               "pedal_static": pedal_static / n_val, "configs": {}}
    for cfg in chosen:
        log(f"training {cfg.name}")
        model = train(cfg, xs, vals, args.steps, args.seed, log)
        ptr = [predict(model, x) for x in xs]
        pva = [predict(model, x) for x in vals]
        btr = [buckets(p, norm) for p, _ in ptr]
        bva = [buckets(p, norm) for p, _ in pva]
        vq = vq_costs(tr, va, {n: [b[n] for b in btr] for n in STREAMS}, {n: [b[n] for b in bva] for n in STREAMS})
        vq["onset"] = {k: v + esc for k, v in vq["onset"].items()}
        idx_bigram, idx_unigram = index_bits([i for _, i in ptr], [i for _, i in pva], cfg.k)
        idx = min(idx_bigram, idx_unigram)
        row = {"val_mse": val_mse(model, vals), "index_bigram": idx_bigram / n_val,
               "index_unigram": idx_unigram / n_val, "index": idx / n_val,
               "streams": {n: {k: v / n_val for k, v in c.items()} for n, c in vq.items()}}
        for kind in ("static", "valfit", "adaptive"):
            saved = sum(base[n][kind] - vq[n][kind] for n in STREAMS)
            row[f"net_{kind}"] = (idx - saved) / n_val
        row["net_addone"] = (idx - sum(base[n]["static"] - vq[n]["addone"] for n in STREAMS)) / n_val
        results["configs"][cfg.name] = row
        log(f"{cfg.name}: " + json.dumps(row))
        if args.out:
            args.out.write_text(json.dumps(results, indent=1))
    print_table(results)


def print_table(r: dict) -> None:
    b = r["baseline"]
    print("\nbits/note on val, static tables fitted on train (onset includes escapes)")
    print(f"{'config':22s} {'onset':>6s} {'vel':>6s} {'dur':>6s} {'sum3':>6s} {'index':>6s} "
          f"{'net':>7s} | {'net add1':>8s} {'net valfit':>10s} {'net adapt':>9s}")
    s3 = sum(b[n]["static"] for n in STREAMS)
    print(f"{'baseline':22s} {b['onset']['static']:6.3f} {b['velocity']['static']:6.3f} {b['duration']['static']:6.3f} "
          f"{s3:6.3f} {0:6.3f} {0:7.3f} |")
    for name, c in r["configs"].items():
        st = c["streams"]
        s = sum(st[n]["static"] for n in STREAMS)
        print(f"{name:22s} {st['onset']['static']:6.3f} {st['velocity']['static']:6.3f} "
              f"{st['duration']['static']:6.3f} "
              f"{s:6.3f} {c['index']:6.3f} {c['net_static']:+7.3f} | "
              f"{c['net_addone']:+8.3f} {c['net_valfit']:+10.3f} {c['net_adaptive']:+9.3f}")


if __name__ == "__main__":
    main()

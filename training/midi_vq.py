"""Train midi-vq, the VQ-VAE that codes a performance's timing, duration and velocity (torch, CPU); its runtime
neighbour is vqcodec/midi/vq.py, and training/export_midi_vq.py makes the bundle.

Windows of `window` notes (in the performance's (onset, pitch) order): per note the features of
vqcodec.midi.vq_features (onset gap, duration, velocity), and the pitch beside them (coded exactly, so encoder and
decoder both see it: an embedding and the interval to the note before). A 1-D conv encoder steps down by `hop`
notes into `latent` dims, residual codebooks (`stages` x `codes`, EMA updates, unused codes restarted) quantise it,
and a decoder steps back up and predicts each note's features. With quantiser dropout (each window keeps the first
n stages, n uniform) every prefix of the stages decodes: one model, a ladder of rates.

The onset loss is on the time from the window's first note (the cumulated gaps): the runtime anchors each window's
first note and predicts the others from it, so an error in one gap must not carry on. It is |error| / onset_cap_s,
at most 1: a note further off than the cap takes a correction at the runtime, whatever its error.

    OMP_NUM_THREADS=1 nice -n 10 python -m training.midi_vq --config training/configs/midi-vq.toml \
        --data $VQCODEC_DATA --out runs/midi-vq --minutes 32 > runs/midi-vq.log 2>&1 &

Train split only for the weights; the checkpoint kept is the best on val (mean loss over every stage count).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import tomllib
import torch
import torch.nn.functional as F
from torch import nn

from vqcodec.midi.vq_features import GAP, GAP_SCALE_S, N_FEATURES, VELOCITY, note_features

ASAP = Path("midi/asap")
MAX_GAP_FEATURE = 8.0
"""Largest gap feature the loss turns back into seconds (0.02 * e^8 = 60 s)."""


def load_config(path: str | Path) -> dict:
    return tomllib.loads(Path(path).read_text())


def load_split(root: Path, split: str) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(features [N, 3], pitch [N], onset [N] s) of each piece of an asap split."""
    from vqcodec.io.midi import read_midi

    folder = root / ASAP
    out = []
    for name in json.loads((folder / "SPLITS.json").read_text())[split]:
        p = read_midi(folder / name)
        out.append((note_features(p.onset, p.offset, p.velocity), p.pitch.astype(np.int64), p.onset))
    return out


class Res(nn.Module):
    def __init__(self, c: int, k: int) -> None:
        super().__init__()
        self.a = nn.Conv1d(c, c, k, padding=k // 2)
        self.b = nn.Conv1d(c, c, k, padding=k // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.b(F.gelu(self.a(F.gelu(x))))


class Side(nn.Module):
    """The pitch side input per note: an embedding and the interval to the note before (0 for the first)."""

    def __init__(self, e: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(128, e)
        self.width = e + 1

    def forward(self, pitch: torch.Tensor) -> torch.Tensor:
        p = pitch.float()
        interval = torch.cat([torch.zeros_like(p[:, :1]), p[:, 1:] - p[:, :-1]], 1).clamp(-24, 24) / 12
        return torch.cat([self.embed(pitch).transpose(1, 2), interval[:, None]], 1)


class Encoder(nn.Module):
    """features [B, 3, W], pitch [B, W] -> latent [B, D, W / hop]."""

    def __init__(self, m: dict) -> None:
        super().__init__()
        c, k = m["channels"], m["kernel"]
        self.side = Side(m["pitch_embedding"])
        layers: list[nn.Module] = [nn.Conv1d(N_FEATURES + self.side.width, c, k, padding=k // 2)]
        for _ in range(int(math.log2(m["hop"]))):
            layers += [Res(c, k), nn.GELU(), nn.Conv1d(c, c, 4, stride=2, padding=1)]
        layers += [Res(c, 3), nn.GELU(), nn.Conv1d(c, m["latent"], 1)]
        self.net = nn.Sequential(*layers)

    def forward(self, features: torch.Tensor, pitch: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([features, self.side(pitch)], 1))


class Decoder(nn.Module):
    """quantised latent [B, D, W / hop], pitch [B, W] -> features [B, 3, W]."""

    def __init__(self, m: dict) -> None:
        super().__init__()
        c, k = m["channels"], m["kernel"]
        self.side = Side(m["pitch_embedding"])
        layers: list[nn.Module] = [nn.Conv1d(m["latent"], c, 3, padding=1), Res(c, 3)]
        for _ in range(int(math.log2(m["hop"]))):
            layers += [nn.GELU(), nn.ConvTranspose1d(c, c, 4, stride=2, padding=1), Res(c, k)]
        self.up = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Conv1d(c + self.side.width, c, k, padding=k // 2), Res(c, k), Res(c, k),
                                  nn.GELU(), nn.Conv1d(c, N_FEATURES, 1))

    def forward(self, latent: torch.Tensor, pitch: torch.Tensor) -> torch.Tensor:
        return self.head(torch.cat([self.up(latent), self.side(pitch)], 1))


class ResidualVQ(nn.Module):
    """`stages` EMA codebooks of `codes` x `latent`; each quantises what the stages before it left."""

    def __init__(self, m: dict) -> None:
        super().__init__()
        s, k, d = m["stages"], m["codes"], m["latent"]
        self.k, self.decay, self.dead = k, m["ema_decay"], m["dead_threshold"]
        self.register_buffer("embed", torch.zeros(s, k, d))
        self.register_buffer("size", torch.ones(s, k))
        self.register_buffer("total", torch.zeros(s, k, d))
        self.register_buffer("usage", torch.ones(s, k))
        self.register_buffer("ready", torch.zeros(s, dtype=torch.bool))

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """z [B, D, T] -> (each stage's quantised vectors [S, B, D, T], indices [B, S, T])."""
        b, d, t = z.shape
        residual = z.detach().permute(0, 2, 1).reshape(-1, d)
        quants, idxs = [], []
        for s in range(self.embed.shape[0]):
            e = self.embed[s]
            if self.training and not self.ready[s]:
                e.copy_(residual[torch.randint(len(residual), (self.k,))])
                self.total[s].copy_(e)
                self.ready[s] = True
            idx = (residual.pow(2).sum(1, keepdim=True) - 2 * residual @ e.T + e.pow(2).sum(1)).argmin(1)
            q = e[idx]
            if self.training:
                self._update(s, residual, idx)
            quants.append(q.reshape(b, t, d).permute(0, 2, 1))
            idxs.append(idx.reshape(b, t))
            residual = residual - q
        return torch.stack(quants), torch.stack(idxs, 1)

    @torch.no_grad()
    def _update(self, s: int, x: torch.Tensor, idx: torch.Tensor) -> None:
        hot = F.one_hot(idx, self.k).type(x.dtype)
        self.size[s].mul_(self.decay).add_(hot.sum(0), alpha=1 - self.decay)
        self.total[s].mul_(self.decay).add_(hot.T @ x, alpha=1 - self.decay)
        n = self.size[s].sum()
        size = (self.size[s] + 1e-5) / (n + self.k * 1e-5) * n
        self.embed[s].copy_(self.total[s] / size[:, None])
        self.usage[s].mul_(0.9).add_(hot.sum(0), alpha=0.1)
        dead = self.usage[s] < self.dead
        if dead.any():
            pick = x[torch.randint(len(x), (int(dead.sum()),))]
            self.embed[s][dead] = pick
            self.total[s][dead] = pick
            self.size[s][dead] = 1.0
            self.usage[s][dead] = 1.0


class MidiVQ(nn.Module):
    def __init__(self, m: dict) -> None:
        super().__init__()
        self.encoder, self.vq, self.decoder = Encoder(m), ResidualVQ(m), Decoder(m)
        self.stages = m["stages"]

    def forward(self, features: torch.Tensor, pitch: torch.Tensor,
                kept: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(predicted features [B, 3, W], commitment loss); kept [B]: stages each window keeps (1..S)."""
        z = self.encoder(features, pitch)
        quants, _ = self.vq(z)
        mask = (torch.arange(self.stages)[:, None] < kept[None]).float()[:, :, None, None]  # [S, B, 1, 1]
        zq = (quants * mask).sum(0)
        commit = F.mse_loss(z, quants.sum(0).detach())
        return self.decoder(z + (zq - z).detach(), pitch), commit


def losses(pred: torch.Tensor, target: torch.Tensor, t: dict) -> dict[str, torch.Tensor]:
    """Per-window losses [B] of predicted vs. true features [B, 3, W]."""
    gap_hat = GAP_SCALE_S * torch.expm1(pred[:, GAP, 1:].clamp(0, MAX_GAP_FEATURE))
    gap = GAP_SCALE_S * torch.expm1(target[:, GAP, 1:])
    err = torch.cumsum(gap_hat - gap, 1)  # error of each note's time from the window's first note
    # in units of onset_cap_s, and no more than 1: a note further off takes a correction whatever its error
    onset = (err.abs() / t["onset_cap_s"]).clamp(max=1.0).mean(1)
    sq = (pred - target).pow(2).mean(2)
    return {"onset": onset, "gap": sq[:, GAP], "duration": sq[:, 1], "velocity": sq[:, VELOCITY]}


def total(parts: dict[str, torch.Tensor], t: dict) -> torch.Tensor:
    return sum(t[f"{k}_weight"] * v for k, v in parts.items())  # type: ignore[return-value]


def windows(pieces: list, w: int, starts: list[tuple[int, int]]) -> tuple[torch.Tensor, torch.Tensor]:
    feats = np.stack([pieces[i][0][a : a + w].T for i, a in starts])
    pitch = np.stack([pieces[i][1][a : a + w] for i, a in starts])
    return torch.from_numpy(feats), torch.from_numpy(pitch)


def val_windows(pieces: list, w: int) -> list[tuple[int, int]]:
    return [(i, a) for i, p in enumerate(pieces) for a in range(0, len(p[1]) - w + 1, w)]


@torch.no_grad()
def evaluate(model: MidiVQ, pieces: list, cfg: dict) -> dict[str, float]:
    """Val: mean loss over every stage count, and per stage count the share of notes whose time from the window's
    first note is within 50 ms and the velocity MAE."""
    model.eval()
    w, t = cfg["data"]["window"], cfg["train"]
    starts = val_windows(pieces, w)
    feats, pitch = windows(pieces, w, starts)
    out: dict[str, float] = {}
    z = model.encoder(feats, pitch)
    quants, _ = model.vq(z)
    losses_all = []
    for n in range(1, model.stages + 1):
        pred = model.decoder(quants[:n].sum(0), pitch)
        parts = losses(pred, feats, t)
        losses_all.append(float(total(parts, t).mean()))
        gap_hat = GAP_SCALE_S * torch.expm1(pred[:, GAP, 1:].clamp(0, MAX_GAP_FEATURE))
        gap = GAP_SCALE_S * torch.expm1(feats[:, GAP, 1:])
        err = torch.cumsum(gap_hat - gap, 1).abs()
        out[f"within50_s{n}"] = float((err <= 0.05).float().mean())
        out[f"vel_mae_s{n}"] = float((pred[:, VELOCITY] - feats[:, VELOCITY]).abs().mean() * 32)
    out["loss"] = float(np.mean(losses_all))
    model.train()
    return out


def lr_at(step: int, t: dict, steps: int) -> float:
    if step < t["warmup"]:
        return t["lr"] * (step + 1) / t["warmup"]
    p = min(1.0, (step - t["warmup"]) / max(1, steps - t["warmup"]))
    return t["lr_min"] + 0.5 * (t["lr"] - t["lr_min"]) * (1 + math.cos(math.pi * p))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", required=True)
    ap.add_argument("--data", required=True, type=Path)
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--minutes", type=float, default=None, help="stop (and end the schedule) after this long")
    args = ap.parse_args()
    cfg = load_config(args.config)
    m, t, w = cfg["model"], cfg["train"], cfg["data"]["window"]
    torch.set_num_threads(1)
    torch.manual_seed(t["seed"])
    rng = np.random.default_rng(t["seed"])
    args.out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    train = [p for p in load_split(args.data, cfg["data"]["train_split"]) if len(p[1]) >= w]
    val = load_split(args.data, cfg["data"]["val_split"])
    print(f"data: {len(train)} train pieces, {sum(len(p[1]) for p in train)} notes; {len(val)} val pieces, "
          f"{sum(len(p[1]) for p in val)} notes ({time.time() - t0:.0f} s)", flush=True)
    lengths = np.array([len(p[1]) - w + 1 for p in train], np.float64)
    model = MidiVQ(m)
    opt = torch.optim.AdamW(model.parameters(), lr=t["lr"], weight_decay=1e-4)
    steps = t["steps"]
    best = math.inf
    start = time.time()
    for step in range(t["steps"]):
        if args.minutes is not None and step == t["warmup"]:  # size the schedule by the warm-up's pace
            pace = (time.time() - start) / t["warmup"]
            steps = min(t["steps"], int(args.minutes * 60 / pace * 0.93))
            print(f"step {step}: {pace * 1000:.0f} ms/step, schedule set to {steps} steps", flush=True)
        if step >= steps:
            break
        for g in opt.param_groups:
            g["lr"] = lr_at(step, t, steps)
        pieces = rng.choice(len(train), t["batch"], p=lengths / lengths.sum())
        starts = [(int(i), int(rng.integers(lengths[i]))) for i in pieces]
        feats, pitch = windows(train, w, starts)
        kept = torch.from_numpy(rng.integers(1, m["stages"] + 1, t["batch"]))
        pred, commit = model(feats, pitch, kept)
        parts = losses(pred, feats, t)
        loss = total(parts, t).mean() + t["commit"] * commit
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if (step + 1) % t["val_every"] == 0 or step + 1 == steps:
            v = evaluate(model, val, cfg)
            line = {"step": step + 1, "train": round(float(loss), 4), "min": round((time.time() - start) / 60, 1)}
            line |= {k: round(x, 4) for k, x in v.items()}
            print(json.dumps(line), flush=True)
            state = {"model": model.state_dict(), "config": cfg, "step": step + 1, "val": v}
            torch.save(state, args.out / "last.pt")
            if v["loss"] < best:
                best = v["loss"]
                torch.save(state, args.out / "best.pt")
    print(f"done: best val loss {best:.4f}", flush=True)


if __name__ == "__main__":
    main()

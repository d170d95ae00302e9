"""Train a VQ-VAE from a TOML config: `python -m training.train --config training/configs/ecg-v1.toml`.

Writes runs/<name>/{train.log, last.pt, best.pt}; `--resume` continues from last.pt, `--init CKPT` starts
a new schedule from a trained model's weights and codebooks (fine-tuning). Model selection uses the `val`
split only. `--device cuda` trains on a GPU; `--minutes M` then sizes the run to the time
given: the step count is fixed from the speed of the warm-up steps (before the schedule depends on it) and
logged, so `--steps N` repeats the run.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import tomllib
import torch
from tqdm import tqdm

from training.data import TileSampler, data_root, train_val_arrays
from training.model import VQVAE


def load_config(path: str | Path) -> dict:
    """Parse a TOML config and derive block_samples (a whole number of frames)."""
    cfg = tomllib.loads(Path(path).read_text())
    hop = math.prod(cfg["model"]["strides"])
    d = cfg["data"]
    d["block_frames"] = round(d["block_seconds"] * d["fs"] / hop)
    d["block_samples"] = d["block_frames"] * hop
    return cfg


def lr_at(step: int, cfg: dict) -> float:
    """Linear warm-up then cosine decay to lr_min."""
    t = cfg["train"]
    if step < t["warmup"]:
        return t["lr"] * (step + 1) / t["warmup"]
    p = min(1.0, (step - t["warmup"]) / max(1, t["steps"] - t["warmup"]))
    return t["lr_min"] + 0.5 * (t["lr"] - t["lr_min"]) * (1 + math.cos(math.pi * p))


class StepClock:
    """Sizes a run by minutes: times the warm-up steps after its first quarter (k-means init, kernel choice are
    left out), then fixes cfg's step count to fill the time; the config's count stays a cap."""

    def __init__(self, cfg: dict, minutes: float | None) -> None:
        self.cfg, self.minutes = cfg, minutes
        self.timed = cfg["train"]["warmup"] // 4
        self.start = 0.0
        if minutes is not None and cfg["train"]["warmup"] < 1:
            raise ValueError("sizing a run by minutes needs train.warmup >= 1: the warm-up steps are timed")

    def tick(self, step: int) -> str | None:
        """Call before each step. At the end of warm-up, sets the step count and returns the line to log."""
        t = self.cfg["train"]
        if self.minutes is None:
            return None
        if step == self.timed:
            self.start = time.time()
        if step != t["warmup"]:
            return None
        per_step = (time.time() - self.start) / (t["warmup"] - self.timed)
        t["steps"] = max(t["warmup"] + 1, min(t["steps"], int(self.minutes * 60 / per_step)))
        return f"{per_step * 1e3:.1f} ms/step: {t['steps']} steps fill {self.minutes} minutes"


@torch.no_grad()
def evaluate(model: VQVAE, val: list[np.ndarray], device: str = "cpu") -> dict:
    """PRDN (%) per number of stages on the val excerpts (normalised domain), and code usage per stage."""
    model.eval()
    stages = model.quantizer.stages
    err = np.zeros(stages)
    used = [set() for _ in range(stages)]
    for x in val:
        xt = torch.from_numpy(x)[None, None].to(device)
        _, idx, _ = model.quantizer(model.encoder(xt))
        for s in range(stages):
            used[s].update(idx[0, s].tolist())
        ref = float(np.sum((x - x.mean()) ** 2))
        for q in range(1, stages + 1):
            y = model.decoder(model.quantizer.decode(idx[:, :q]))[0, 0].cpu().numpy()
            err[q - 1] += 100 * math.sqrt(float(np.sum((y - x) ** 2)) / ref)
    model.train()
    prdn = err / len(val)
    return {
        "prdn": [round(float(p), 3) for p in prdn],
        "usage": [len(u) for u in used],
        "score": float(np.mean(np.log(prdn))),
    }


def _device_name(device: str) -> str:
    """What trained the model, for the manifest: the GPU's name, or the CPU's thread count."""
    if device.startswith("cuda"):
        return torch.cuda.get_device_name(torch.device(device))
    return f"cpu, {torch.get_num_threads()} threads"


def descend(opt: torch.optim.Optimizer, loss: torch.Tensor, params, clip: float) -> None:  # noqa: ANN001
    """One optimiser step on `loss`, the gradient of `params` clipped to norm `clip`."""
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, clip)
    opt.step()


def keep(ck: dict, run: Path, score: float, best: float) -> float:
    """Save checkpoint `ck` as run/last.pt, and as run/best.pt when `score` beats `best`; returns the best score
    (also written into the checkpoint)."""
    best = min(best, score)
    ck["best"] = best
    if score == best:
        torch.save(ck, run / "best.pt")
    torch.save(ck, run / "last.pt")
    return best


def stage_sampler(cfg: dict, stages: int, gen: torch.Generator) -> Callable[[int], torch.Tensor]:
    """Draws the stage count of each tile (quantiser dropout): uniform over 1..stages, or by the config's
    train.stage_probs, which can favour the low-rate prefixes the default quality uses."""
    probs = cfg["train"].get("stage_probs")
    if probs is None:
        return lambda n: torch.randint(1, stages + 1, (n,), generator=gen)
    if len(probs) != stages or min(probs) < 0:
        raise ValueError(f"train.stage_probs needs {stages} non-negative weights, got {probs}")
    weights = torch.tensor(probs, dtype=torch.float64)
    return lambda n: torch.multinomial(weights, n, replacement=True, generator=gen) + 1


def train(cfg: dict, train_arrays: list[np.ndarray], val: list[np.ndarray], run: Path,
          resume: bool = False, device: str = "cpu", minutes: float | None = None, init: Path | None = None) -> Path:
    """Train on normalised 1-D arrays, select on `val`; returns the best checkpoint's path.

    With `minutes`, the total step count is set at the end of warm-up from the measured speed. With `init`,
    the model starts from that checkpoint's weights and codebooks (its architecture must be cfg's).
    """
    t, d = cfg["train"], cfg["data"]
    torch.manual_seed(t["seed"])
    torch.set_num_threads(t.get("threads", 2))
    torch.backends.cudnn.benchmark = device.startswith("cuda")  # fixed tile shapes: let cuDNN pick its kernels
    run.mkdir(parents=True, exist_ok=True)
    log = open(run / "train.log", "a")

    def say(msg: str) -> None:
        print(msg, file=log, flush=True)

    sampler = TileSampler(train_arrays, d["tile"], t["seed"])
    say(f"{len(train_arrays)} train channels, {len(val)} val excerpts, hop {math.prod(cfg['model']['strides'])}")
    model = VQVAE(cfg, seed=t["seed"]).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=t["lr"], weight_decay=t.get("weight_decay", 0.0))
    step, best, elapsed0 = 0, math.inf, 0.0
    if resume and (run / "last.pt").exists():
        ck = torch.load(run / "last.pt", weights_only=False, map_location=device)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        step, best, elapsed0 = ck["step"], ck["best"], ck["elapsed"]
        sampler.rng = np.random.default_rng([t["seed"], step])
        say(f"resumed at step {step}")
    elif init is not None:
        model.load_state_dict(torch.load(init, weights_only=False, map_location=device)["model"])
        say(f"initialised from {init}")
    say(f"{sum(p.numel() for p in model.parameters())} parameters")

    stages = model.quantizer.stages  # 1 for FSQ, whose n_active is then always 1
    draw_stages = stage_sampler(cfg, stages, torch.Generator().manual_seed(t["seed"] + step))
    start = time.time()
    bar = tqdm(total=t["steps"], initial=step, file=sys.stderr, mininterval=30, desc=cfg["name"])
    clock = StepClock(cfg, minutes)
    while step < t["steps"]:
        if sized := clock.tick(step):
            bar.total = t["steps"]
            say(sized)
        for g in opt.param_groups:
            g["lr"] = lr_at(step, cfg)
        x = torch.from_numpy(sampler.batch(t["batch"])).to(device)
        n_active = draw_stages(t["batch"]).to(device)
        y, _, commit = model(x, n_active)
        rec = torch.mean((y - x) ** 2)
        loss = rec + t["commit_weight"] * commit
        descend(opt, loss, model.parameters(), t["clip"])
        step += 1
        bar.update(1)
        if step % t["log_every"] == 0:
            say(f"step {step} loss {loss.item():.4f} rec {rec.item():.4f} commit {commit.item():.4f} "
                f"lr {lr_at(step, cfg):.2e} restarts {model.quantizer.restarts.tolist()} "
                f"t {elapsed0 + time.time() - start:.0f}s")
        if step % t["eval_every"] == 0 or step == t["steps"]:
            ev = evaluate(model, val, device)
            elapsed = elapsed0 + time.time() - start
            ck = {"model": model.state_dict(), "opt": opt.state_dict(), "step": step, "best": best,
                  "elapsed": elapsed, "config": cfg, "val": ev, "device": _device_name(device)}
            best = keep(ck, run, ev["score"], best)
            say(f"eval step {step}: val PRDN% by stages {ev['prdn']} usage {ev['usage']} "
                f"score {ev['score']:.4f} best {best:.4f} elapsed {elapsed:.0f}s")
    bar.close()
    say("done")
    log.close()
    return run / "best.pt"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--config", required=True)
    ap.add_argument("--data", default=None, help="data folder (default: $VQCODEC_DATA)")
    ap.add_argument("--out", default="runs")
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--init", type=Path, default=None, help="start from this checkpoint's weights (fine-tune)")
    ap.add_argument("--device", default="cpu", help="torch device, e.g. cuda")
    ap.add_argument("--steps", type=int, default=None, help="override the config's step count")
    ap.add_argument("--minutes", type=float, default=None, help="size the step count to this many minutes")
    args = ap.parse_args(argv)
    cfg = load_config(args.config)
    if args.steps is not None:
        cfg["train"]["steps"] = args.steps
    train_arrays, val = train_val_arrays(data_root(args.data), cfg["data"])
    train(cfg, train_arrays, val, Path(args.out) / cfg["name"], args.resume, args.device, args.minutes,
          args.init)


if __name__ == "__main__":
    main()

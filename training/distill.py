"""Distil a cheaper encoder for a trained model: the student encoder (config `model.encoder_channels`) learns
to give the teacher's latent on train tiles (MSE over the latent's variance) and, with `--recon`, the
reconstruction through the teacher's quantiser and decoder, which stay frozen, so indices and decoded signals keep
their meaning and only the encoder's arithmetic shrinks. Selection on val by the same score as training (PRDN by
stages through the teacher's quantiser and decoder). ecg-v3's encoder came from (on a GPU, sized by --minutes 4.5):

    python -m training.distill --teacher runs/gpu/ecg-v2.pt --channels 16,32,64,128 --recon 1 --batch 64 \
        --steps 13380 --eval-every 1000 --data ../shared/data --device cuda --out runs/distill/s32-r1-long

The checkpoints have train.py's layout, so `python -m training.export --decoding-of <teacher's bundle>` makes a
bundle of the student that decodes the teacher's files.
"""

from __future__ import annotations

import argparse
import copy
import math
import time
from pathlib import Path

import numpy as np
import torch

from training.data import TileSampler, data_root, train_val_arrays
from training.model import VQVAE
from training.train import StepClock, _device_name, evaluate, lr_at, stage_sampler


def student_of(teacher: VQVAE, cfg: dict, channels: list[int]) -> tuple[VQVAE, dict]:
    """A VQVAE whose encoder has `channels` and whose quantiser and decoder are the teacher's (frozen)."""
    cfg = copy.deepcopy(cfg)
    cfg["model"]["encoder_channels"] = channels
    student = VQVAE(cfg)
    kept = {k: v for k, v in teacher.state_dict().items() if not k.startswith("encoder.")}
    student.load_state_dict(kept, strict=False)
    for p in [*student.quantizer.parameters(), *student.decoder.parameters()]:
        p.requires_grad_(False)
    return student, cfg


def distill(teacher_path: Path, channels: list[int], train_arrays: list[np.ndarray], val: list[np.ndarray],
            run: Path, steps: int, batch: int | None = None, eval_every: int = 500, device: str = "cpu",
            minutes: float | None = None, recon: float = 0.0) -> Path:
    """Train the student for `steps` steps of the teacher's schedule (and batch, unless given); returns the best
    checkpoint. With `minutes`, `steps` is a cap and the count is fixed from the warm-up's speed, as in train.py.

    The loss is the latent's MSE over its variance, plus `recon` times the reconstruction MSE through the frozen
    quantiser (straight-through, random stage count as in training) and decoder: the encoder then also learns
    what the teacher's decoder needs rather than only the teacher's latent.
    """
    ck = torch.load(teacher_path, weights_only=False, map_location=device)
    teacher = VQVAE(ck["config"]).to(device)
    teacher.load_state_dict(ck["model"])
    teacher.eval()
    student, cfg = student_of(teacher, ck["config"], channels)
    student.to(device)
    t = cfg["train"]
    t["steps"] = steps
    t["batch"] = batch or t["batch"]
    torch.manual_seed(t["seed"])
    torch.set_num_threads(t.get("threads", 2))
    torch.backends.cudnn.benchmark = device.startswith("cuda")
    run.mkdir(parents=True, exist_ok=True)
    log = open(run / "distill.log", "a")
    sampler = TileSampler(train_arrays, cfg["data"]["tile"], t["seed"])
    draw_stages = stage_sampler(cfg, student.quantizer.stages, torch.Generator().manual_seed(t["seed"]))
    opt = torch.optim.AdamW(student.encoder.parameters(), lr=t["lr"])
    print(f"teacher {teacher_path} step {ck['step']}, val PRDN by stages {ck['val']['prdn']}; student encoder "
          f"{channels}: {sum(p.numel() for p in student.encoder.parameters())} parameters "
          f"(teacher's {sum(p.numel() for p in teacher.encoder.parameters())}), recon weight {recon}",
          file=log, flush=True)
    clock = StepClock(cfg, minutes)
    best, start, step = math.inf, time.time(), 0
    while step < t["steps"]:
        if sized := clock.tick(step):
            print(sized, file=log, flush=True)
        for g in opt.param_groups:
            g["lr"] = lr_at(step, cfg)
        step += 1
        x = torch.from_numpy(sampler.batch(t["batch"])).to(device)
        with torch.no_grad():
            target = teacher.encoder(x)
        z = student.encoder(x)
        loss = torch.mean((z - target) ** 2) / target.var()
        if recon:
            student.quantizer.eval()  # frozen: no codebook updates or restarts
            n_active = draw_stages(t["batch"]).to(device)
            z_q, _, _ = student.quantizer(z, n_active)
            loss = loss + recon * torch.mean((student.decoder(z_q) - x) ** 2)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(student.encoder.parameters(), t["clip"])
        opt.step()
        if step % eval_every == 0 or step == t["steps"]:
            ev = evaluate(student, val, device)
            out = {"model": student.state_dict(), "step": step, "best": best, "elapsed": time.time() - start,
                   "config": cfg, "val": ev, "device": _device_name(device), "teacher": str(teacher_path),
                   "recon": recon}
            if ev["score"] < best:
                best = out["best"] = ev["score"]
                torch.save(out, run / "best.pt")
            torch.save(out, run / "last.pt")
            print(f"step {step} loss {loss.item():.4f} val PRDN% by stages {ev['prdn']} score {ev['score']:.4f} "
                  f"best {best:.4f} t {time.time() - start:.0f}s", file=log, flush=True)
    log.close()
    return run / "best.pt"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--teacher", required=True, type=Path, help="the trained model's checkpoint")
    ap.add_argument("--channels", required=True, help="student encoder channels, e.g. 16,32,64,128")
    ap.add_argument("--steps", required=True, type=int, help="step count (with --minutes: its cap)")
    ap.add_argument("--minutes", type=float, default=None, help="size the step count to this many minutes")
    ap.add_argument("--recon", type=float, default=0.0, help="weight of the reconstruction term (default 0)")
    ap.add_argument("--eval-every", type=int, default=500)
    ap.add_argument("--batch", type=int, default=None, help="tiles per step (default: the teacher's)")
    ap.add_argument("--data", default=None, help="data folder (default: $VQCODEC_DATA)")
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args(argv)
    cfg = torch.load(args.teacher, weights_only=False, map_location="cpu")["config"]
    train_arrays, val = train_val_arrays(data_root(args.data), cfg["data"])
    channels = [int(c) for c in args.channels.split(",")]
    distill(args.teacher, channels, train_arrays, val, args.out, args.steps, args.batch, args.eval_every,
            args.device, args.minutes, args.recon)


if __name__ == "__main__":
    main()

"""Distil a cheaper encoder for a trained model: the student encoder (config `model.encoder_channels`) learns
to give the teacher's latent on train tiles (MSE over the latent's variance) and, with `--recon`, the
reconstruction through the teacher's quantiser and decoder, which stay frozen, so indices and decoded signals keep
their meaning and only the encoder's arithmetic shrinks. Selection on val by the same score as training (PRDN by
stages through the teacher's quantiser and decoder). ecg-v3's encoder came from (on a GPU, sized by --minutes 4.5):

    python -m training.distill --teacher runs/gpu/ecg-v2.pt --channels 16,32,64,128 --recon 1 --batch 64 \
        --steps 13380 --eval-every 1000 --data ../shared/data --device cuda --out runs/distill/s32-r1-long

The checkpoints have train.py's layout, so `python -m training.export --decoding-of <teacher's bundle>` makes a
bundle of the student that decodes the teacher's files.

`--part decoder` distils a cheaper decoder instead (config `model.channels`): the teacher's encoder and quantiser
stay frozen and give the latents (a random stage count per tile, as in training); the student decoder learns the
teacher decoder's output and, with `--recon`, the signal itself. Its indices mean what the teacher's mean, but its
output is its own, so its bundle gets a new id (it cannot decode the teacher's files identically). The teacher may
be a shipped bundle (`--teacher vqcodec/models/ecg-v4`), read from its ONNX graphs.
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
from training.train import StepClock, _device_name, descend, evaluate, keep, lr_at, stage_sampler


def student_of(teacher: VQVAE, cfg: dict, channels: list[int], part: str = "encoder",
               dilations: list[int] | None = None) -> tuple[VQVAE, dict]:
    """A VQVAE whose `part` ("encoder" or "decoder") has `channels` (and, for a decoder, `dilations` if given)
    and learns, while everything else is the teacher's, frozen."""
    cfg = copy.deepcopy(cfg)
    m = cfg["model"]
    m["encoder_channels"] = m.get("encoder_channels", m["channels"])  # `channels` is the decoder's width
    m["encoder_channels" if part == "encoder" else "channels"] = channels
    if dilations is not None:
        if part != "decoder":
            raise ValueError("only a student decoder may change its dilations")
        m["decoder_dilations"] = dilations
    student = VQVAE(cfg)
    kept = {k: v for k, v in teacher.state_dict().items() if not k.startswith(f"{part}.")}
    student.load_state_dict(kept, strict=False)
    for name, p in student.named_parameters():
        p.requires_grad_(name.startswith(f"{part}."))
    return student, cfg


def load_teacher(path: Path, device: str, config: Path | None = None) -> tuple[VQVAE, dict, str]:
    """A teacher from a checkpoint, or from a bundle folder (then `config` gives its architecture)."""
    if path.is_dir():
        from training.rate import model_from_bundle
        from training.train import load_config

        if config is None:
            raise SystemExit("a bundle teacher needs --config (its architecture and training settings)")
        cfg = load_config(config)
        return model_from_bundle(cfg, path).to(device), cfg, f"bundle {path}"
    ck = torch.load(path, weights_only=False, map_location=device)
    teacher = VQVAE(ck["config"]).to(device)
    teacher.load_state_dict(ck["model"])
    return teacher, ck["config"], f"{path} step {ck['step']}, val {ck['val'].get('prdn', ck['val'])}"


def distill_decoder(teacher_path: Path, channels: list[int], train_arrays: list[np.ndarray], val: list[np.ndarray],
                    run: Path, steps: int, batch: int | None = None, eval_every: int = 500, device: str = "cpu",
                    recon: float = 0.0, config: Path | None = None, resume: bool = False,
                    init: Path | None = None, minutes: float | None = None,
                    dilations: list[int] | None = None) -> Path:
    """Train a student decoder for `steps` steps; returns the best checkpoint (train.py's layout).

    The loss is the MSE to the teacher decoder's output on the same quantised latent (normalised domain), plus
    `recon` times the MSE to the signal. Resumes from run/last.pt with `resume`; `init` starts the student decoder
    from an earlier student's (e.g. one distilled from the teacher this one fine-tuned)."""
    teacher, cfg, said = load_teacher(teacher_path, device, config)
    teacher.eval()
    student, cfg = student_of(teacher, cfg, channels, part="decoder", dilations=dilations)
    student.to(device)
    student.quantizer.eval()  # frozen: no codebook updates or restarts
    t = cfg["train"]
    t["steps"] = steps
    t["batch"] = batch or t["batch"]
    torch.manual_seed(t["seed"])
    torch.set_num_threads(t.get("threads", 2))
    run.mkdir(parents=True, exist_ok=True)
    log = open(run / "distill.log", "a")
    opt = torch.optim.AdamW(student.decoder.parameters(), lr=t["lr"])
    best, step, elapsed0 = math.inf, 0, 0.0
    if resume and (run / "last.pt").exists():
        ck = torch.load(run / "last.pt", weights_only=False, map_location=device)
        student.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        best, step, elapsed0 = ck["best"], ck["step"], ck["elapsed"]
        print(f"resumed at step {step}", file=log, flush=True)
    else:
        if init is not None:
            earlier = torch.load(init, weights_only=False, map_location=device)["model"]
            student.decoder.load_state_dict({k.removeprefix("decoder."): v for k, v in earlier.items()
                                             if k.startswith("decoder.")})
            print(f"student decoder from {init}", file=log, flush=True)
        print(f"teacher {said}; student decoder {channels}: "
              f"{sum(p.numel() for p in student.decoder.parameters())} parameters (teacher's "
              f"{sum(p.numel() for p in teacher.decoder.parameters())}), recon weight {recon}", file=log, flush=True)
    sampler = TileSampler(train_arrays, cfg["data"]["tile"], t["seed"])
    sampler.rng = np.random.default_rng([t["seed"], step])
    draw_stages = stage_sampler(cfg, student.quantizer.stages, torch.Generator().manual_seed(t["seed"] + step))
    start = time.time()
    clock = StepClock(cfg, minutes if step == 0 else None)
    while step < t["steps"]:
        if sized := clock.tick(step):
            print(sized, file=log, flush=True)
        for g in opt.param_groups:
            g["lr"] = lr_at(step, cfg)
        step += 1
        x = torch.from_numpy(sampler.batch(t["batch"])).to(device)
        with torch.no_grad():
            z_q, _, _ = teacher.quantizer(teacher.encoder(x), draw_stages(t["batch"]).to(device))
            target = teacher.decoder(z_q)
        y = student.decoder(z_q)
        loss = torch.mean((y - target) ** 2) + recon * torch.mean((y - x) ** 2)
        descend(opt, loss, student.decoder.parameters(), t["clip"])
        if step % 50 == 0:
            print(f"step {step} loss {loss.item():.5f} t {elapsed0 + time.time() - start:.0f}s", file=log, flush=True)
        if step % eval_every == 0 or step == t["steps"]:
            ev = evaluate(student, val, device)
            elapsed = elapsed0 + time.time() - start
            out = {"model": student.state_dict(), "opt": opt.state_dict(), "step": step, "elapsed": elapsed,
                   "config": cfg, "val": ev, "device": _device_name(device), "teacher": str(teacher_path),
                   "recon": recon}
            best = keep(out, run, ev["score"], best)
            print(f"step {step} loss {loss.item():.5f} val PRDN% by stages {ev['prdn']} score {ev['score']:.4f} "
                  f"best {best:.4f} t {elapsed:.0f}s", file=log, flush=True)
    log.close()
    return run / "best.pt"


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
        descend(opt, loss, student.encoder.parameters(), t["clip"])
        if step % eval_every == 0 or step == t["steps"]:
            ev = evaluate(student, val, device)
            out = {"model": student.state_dict(), "step": step, "elapsed": time.time() - start, "config": cfg,
                   "val": ev, "device": _device_name(device), "teacher": str(teacher_path), "recon": recon}
            best = keep(out, run, ev["score"], best)
            print(f"step {step} loss {loss.item():.4f} val PRDN% by stages {ev['prdn']} score {ev['score']:.4f} "
                  f"best {best:.4f} t {time.time() - start:.0f}s", file=log, flush=True)
    log.close()
    return run / "best.pt"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--teacher", required=True, type=Path, help="the trained model's checkpoint, or a bundle folder")
    ap.add_argument("--config", type=Path, default=None, help="with a bundle teacher: its training config")
    ap.add_argument("--part", choices=("encoder", "decoder"), default="encoder", help="what the student replaces")
    ap.add_argument("--resume", action="store_true", help="--part decoder: continue from OUT/last.pt")
    ap.add_argument("--init", type=Path, default=None, help="--part decoder: start from this student's decoder")
    ap.add_argument("--channels", required=True, help="student channels, e.g. 16,32,64,128")
    ap.add_argument("--dilations", default=None, help="--part decoder: the student's dilations, e.g. 1 "
                    "(default: the teacher's)")
    ap.add_argument("--steps", required=True, type=int, help="step count (with --minutes: its cap)")
    ap.add_argument("--minutes", type=float, default=None, help="size the step count to this many minutes")
    ap.add_argument("--recon", type=float, default=0.0, help="weight of the reconstruction term (default 0)")
    ap.add_argument("--eval-every", type=int, default=500)
    ap.add_argument("--batch", type=int, default=None, help="tiles per step (default: the teacher's)")
    ap.add_argument("--data", default=None, help="data folder (default: $VQCODEC_DATA)")
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args(argv)
    channels = [int(c) for c in args.channels.split(",")]
    if args.part == "decoder":
        _, cfg, _ = load_teacher(args.teacher, "cpu", args.config)
        train_arrays, val = train_val_arrays(data_root(args.data), cfg["data"])
        distill_decoder(args.teacher, channels, train_arrays, val, args.out, args.steps, args.batch, args.eval_every,
                        args.device, args.recon, args.config, args.resume, args.init, args.minutes,
                        None if args.dilations is None else [int(d) for d in args.dilations.split(",")])
        return
    cfg = torch.load(args.teacher, weights_only=False, map_location="cpu")["config"]
    train_arrays, val = train_val_arrays(data_root(args.data), cfg["data"])
    distill(args.teacher, channels, train_arrays, val, args.out, args.steps, args.batch, args.eval_every,
            args.device, args.minutes, args.recon)


if __name__ == "__main__":
    main()

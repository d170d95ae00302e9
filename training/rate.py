"""Rate in the loss: fine-tune an ECG VQ-VAE for distortion + beta * bits, the bits priced by a learned bigram prior.

`training.train` trains for reconstruction alone; this module adds what the entropy coder
(`vqcodec.coding.entropy`) will charge. The prior has the coder's contexts (a stage-1 index given the previous
stage-1 index, a later stage's given the index one stage up) as logits learned with the network by maximum
likelihood on the indices the training search picks. The search is the runtime's (ECVQ: argmin distance +
lambda * bits, `vqcodec.ecg.search`), at a lambda drawn per tile from the ladder's weights, so the decoder learns
the indices it will be given; the encoder feels the rate through a soft assignment (the expected bits under a
softmax over code distances), beta = KAPPA * lambda. Quantiser dropout stays, so one model still gives the ladder.

    python -m training.rate --config training/configs/ecg-v5-rate.toml --bundle vqcodec/models/ecg-v4

starts from a shipped bundle's ONNX weights and codebooks (no checkpoint needed) and resumes from
runs/<name>/last.pt with `--resume`. With `rate.decoder_init` the decoder is a cheaper student's instead (its
width in `model.channels`), trained end to end with the encoder and codebooks; `rate.teacher_weight` adds the MSE
to the bundle's own decoder (width `rate.teacher_channels`, frozen) on the same quantised latent.
"""

from __future__ import annotations

import argparse
import copy
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import numpy_helper
from tqdm import tqdm

from training.data import data_root, normalized_channels, train_val_arrays
from training.model import VQVAE
from training.quantizer import ResidualVQ
from training.train import StepClock, _device_name, descend, keep, load_config, lr_at, stage_sampler

LN2 = math.log(2.0)


def model_from_bundle(cfg: dict, bundle: Path, parts: tuple[str, ...] = ("encoder", "decoder")) -> VQVAE:
    """A VQVAE of cfg's architecture holding a shipped bundle's weights (from its ONNX graphs) and codebooks; the
    parts not named keep cfg's fresh weights (a student decoder of another width, loaded afterwards).

    The CPU rewrite of the graphs (`training.cpu_graph`) keeps each weight's name and adds a height axis of 1,
    which is squeezed back here."""
    model = VQVAE(cfg)
    state = model.state_dict()
    loaded = set()
    for part in parts:
        graph = onnx.load(str(bundle / f"{part}.onnx")).graph
        for init in graph.initializer:
            key = f"{part}.{init.name}"
            if key not in state:
                continue
            w = torch.from_numpy(numpy_helper.to_array(init).copy())
            if w.dim() == 4 and state[key].dim() == 3:
                w = w[:, :, 0, :]
            if w.shape != state[key].shape:
                raise ValueError(f"{bundle}: {key} has shape {tuple(w.shape)}, "
                                 f"the config wants {tuple(state[key].shape)}")
            state[key] = w
            loaded.add(key)
    missing = [k for k in state if k.startswith(tuple(f"{p}." for p in parts)) and k not in loaded]
    if missing:
        raise ValueError(f"{bundle}: no weight in the graphs for {missing[:3]}")
    model.load_state_dict(state)
    q = model.quantizer
    assert isinstance(q, ResidualVQ)
    cb = torch.from_numpy(np.load(bundle / "codebooks.npy")).float()
    q.codebooks.copy_(cb)
    per_code = float(cfg["train"]["batch"] * cfg["data"]["tile"] / model.hop / q.codes)
    q.cluster_size.fill_(per_code)  # an EMA start as if each code had been used evenly: no jump at step 1
    q.embed_sum.copy_(cb * per_code)
    q.initialized.fill_(True)
    return model


class BigramPrior(torch.nn.Module):
    """Logits [S, K + 1, K] of the coder's contexts (row K: the start context); bits(k | c) = -log2 softmax."""

    def __init__(self, counts: np.ndarray) -> None:
        super().__init__()
        self.logits = torch.nn.Parameter(torch.log(torch.from_numpy(counts.astype(np.float64) + 1.0)).float())

    def bits(self) -> torch.Tensor:
        return -torch.log_softmax(self.logits, dim=-1) / LN2


def _distances(r: torch.Tensor, cb: torch.Tensor) -> torch.Tensor:
    """||r - c_k||^2 for r [N, D], cb [K, D] -> [N, K]."""
    return (r * r).sum(1, keepdim=True) - 2 * r @ cb.t() + (cb * cb).sum(1)[None]


def rate_quantize(q: ResidualVQ, prior: BigramPrior, z: torch.Tensor, n_active: torch.Tensor, lam: torch.Tensor,
                  tau: float, train: bool = True, stage_weights: Sequence[float] | None = None,
                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """ECVQ over z [B, D, F] at weight lam [B] (times stage_weights[s] at stage s, default 1) with n_active [B]
    stages.

    Returns z_q (straight-through), indices [B, S, F], commitment loss, soft bits per tile [B] (gradient to the
    encoder) and the prior's negative log-likelihood in bits of the picked indices (gradient to the logits)."""
    b, d, f = z.shape
    x = z.permute(0, 2, 1)  # [B, F, D]
    bits_table = prior.bits()  # [S, K + 1, K]
    fixed = bits_table.detach()
    k = q.codes
    cbs = q.codebooks.clone()  # the EMA updates below change q.codebooks in place; autograd keeps this copy
    lam_f = lam.repeat_interleave(f)[:, None]  # [B*F, 1]
    residual, out = x, torch.zeros_like(x)
    commit, soft_bits, nll = z.new_zeros(()), z.new_zeros(b), z.new_zeros(())
    indices, above = [], None
    for s in range(q.stages):
        w = 1.0 if stage_weights is None else float(stage_weights[s])
        live = n_active > s
        active = live.to(x.dtype)[:, None, None]
        flat = residual.reshape(-1, d)
        dist = _distances(flat.detach(), cbs[s])  # [B*F, K]
        if s == 0:  # the context is the previous frame's pick: take it from the nearest pick, then from the pick
            ctx = torch.full((b, f), k, dtype=torch.long, device=z.device)
            pick = dist.argmin(1).view(b, f)
            for _ in range(2):
                ctx[:, 1:] = pick[:, :-1]
                pick = (dist + w * lam_f * fixed[0][ctx.reshape(-1)]).argmin(1).view(b, f)
        else:
            ctx = above
            pick = (dist + w * lam_f * fixed[s][ctx.reshape(-1)]).argmin(1).view(b, f)
        idx = pick.reshape(-1)
        mask = live.repeat_interleave(f)
        if train and mask.any():
            q._update(s, flat.detach()[mask], idx[mask])
        cw = cbs[s][idx].view(b, f, d)
        ctx_bits = fixed[s][ctx.reshape(-1)]  # [B*F, K]
        soft = torch.softmax(-_distances(flat, cbs[s]) / tau, dim=1)
        soft_bits = soft_bits + w * (soft * ctx_bits).sum(1).view(b, f).sum(1) * live.to(x.dtype)
        picked = bits_table[s][ctx.reshape(-1), idx].view(b, f)  # the logits' gradient
        nll = nll + (picked.sum(1) * live.to(x.dtype)).sum()
        commit = commit + (((residual - cw) ** 2) * active).mean()
        out = out + cw * active
        residual = residual - cw * active
        indices.append(pick)
        above = pick
    z_q = x + (out - x).detach()
    return z_q.permute(0, 2, 1), torch.stack(indices, 1), commit, soft_bits, nll


@torch.no_grad()
def evaluate_rate(model: VQVAE, prior: BigramPrior, val: list[np.ndarray], lams: list[float], tau: float,
                  device: str, stage_weights: Sequence[float] | None = None) -> dict:
    """Val PRDN (%) and the prior's bits per sample, one stage at each lambda and all stage counts at lambda 0.

    Bits are the learned prior's (a static model: the coder's adaptive counts do somewhat better)."""
    model.eval()
    out = {}
    settings = [(1, lam) for lam in lams] + [(n, 0.0) for n in range(2, model.quantizer.stages + 1)]
    for stages, lam in settings:
        prdn, bits, samples = 0.0, 0.0, 0
        for x in val:
            xt = torch.from_numpy(x)[None, None].to(device)
            n = torch.tensor([stages], device=device)
            z_q, _, _, _, nll = rate_quantize(model.quantizer, prior, model.encoder(xt), n,
                                              torch.tensor([lam], device=device), tau, train=False,
                                              stage_weights=stage_weights)
            y = model.decoder(z_q)[0, 0].cpu().numpy()
            prdn += 100 * math.sqrt(float(np.sum((y - x) ** 2)) / float(np.sum((x - x.mean()) ** 2)))
            bits += float(nll)
            samples += len(x)
        out[f"{stages}@{lam:g}"] = (round(prdn / len(val), 3), round(bits / samples, 4))
    model.train()
    return out


def extra_arrays(root: Path, cfg: dict) -> list[np.ndarray]:
    """The extra training material the config names (`data.extra`: "qtdb", "ptbxl"), every lead resampled to the
    model's rate as the runtime does, normalised per block; never LUDB, never mitdb's val or test."""
    import wfdb
    from scipy.signal import resample_poly

    fs = cfg["data"]["fs"]
    chans: list[np.ndarray] = []
    for name in cfg["data"].get("extra", []):
        folder = root / "ecg" / name
        records = [r.strip() for r in (folder / "RECORDS").read_text().split() if r.strip()]
        for rec_name in records:
            rec = wfdb.rdrecord(str(folder / rec_name))
            up, down = int(fs), int(rec.fs)
            g = math.gcd(up, down)
            for c in range(rec.p_signal.shape[1]):
                x = rec.p_signal[:, c].astype(np.float64)
                if np.all(np.isnan(x)):
                    continue
                x = np.where(np.isnan(x), np.nanmean(x), x)
                chans.append(resample_poly(x, up // g, down // g))
    return normalized_channels(chans, cfg["data"]["block_samples"])


def train_rate(cfg: dict, bundle: Path, train_arrays: list[np.ndarray], val: list[np.ndarray], run: Path,
               resume: bool, device: str, minutes: float | None = None) -> None:
    """The fine-tune; writes run/{train.log, last.pt, best.pt}. Selection: the mean log PRDN + log bits over
    the val settings (a rate-distortion score), lower is better. With `minutes` (a fresh run), the step count is
    sized from the warm-up's speed, the config's count a cap (as train.py does)."""
    from training.data import TileSampler

    t, d, r = cfg["train"], cfg["data"], cfg["rate"]
    torch.manual_seed(t["seed"])
    torch.set_num_threads(t.get("threads", 1))
    run.mkdir(parents=True, exist_ok=True)
    log = open(run / "train.log", "a")

    def say(msg: str) -> None:
        print(msg, file=log, flush=True)

    student = r.get("decoder_init")  # a distilled cheaper decoder (training.distill --part decoder) to train on
    model = model_from_bundle(cfg, bundle, ("encoder",) if student else ("encoder", "decoder")).to(device)
    teacher = None
    if student:
        earlier = torch.load(student, weights_only=False, map_location=device)["model"]
        model.decoder.load_state_dict({k.removeprefix("decoder."): v for k, v in earlier.items()
                                       if k.startswith("decoder.")})
    if r.get("teacher_weight", 0.0) > 0:  # the bundle's own decoder, frozen, as a second target
        tcfg = copy.deepcopy(cfg)
        tcfg["model"]["channels"] = r["teacher_channels"]
        teacher = model_from_bundle(tcfg, bundle).decoder.to(device).eval()
        teacher.requires_grad_(False)
    counts = np.load(bundle / "stage_priors.npz")[str(model.quantizer.stages)]
    prior = BigramPrior(counts).to(device)
    enc_lr = t["lr"] * r.get("encoder_lr_scale", 1.0)  # below 1: the encoder moves slower than a student decoder
    bases = (enc_lr, t["lr"], r["prior_lr"])
    opt = torch.optim.AdamW([{"params": model.encoder.parameters(), "lr": enc_lr},
                             {"params": model.decoder.parameters(), "lr": t["lr"]},
                             {"params": prior.parameters(), "lr": r["prior_lr"]}])
    frozen = r.get("freeze_codebooks", False)  # no EMA updates: the codebooks (and the teacher's meaning) stay
    sampler = TileSampler(train_arrays, d["tile"], t["seed"])
    step, best, elapsed0 = 0, math.inf, 0.0
    if resume and (run / "last.pt").exists():
        ck = torch.load(run / "last.pt", weights_only=False, map_location=device)
        model.load_state_dict(ck["model"])
        prior.load_state_dict(ck["prior"])
        if len(ck["opt"]["param_groups"]) == len(opt.param_groups):
            opt.load_state_dict(ck["opt"])
        else:  # a run from before the encoder had its own group (one group for the model, one for the prior)
            say("optimiser state not resumed (its parameter groups differ): Adam's moments start afresh")
        step, best, elapsed0 = ck["step"], ck["best"], ck["elapsed"]
        sampler.rng = np.random.default_rng([t["seed"], step])
        say(f"resumed at step {step}")
    else:
        say(f"from {bundle}; {len(train_arrays)} train channels, {len(val)} val excerpts")
        ev = evaluate_rate(model, prior, val, r["eval_lams"], r["tau"], device, r.get("stage_weights"))
        say(f"eval step 0: {ev}")
    lams = torch.tensor(r["lams"], dtype=torch.float32)
    draw_stages = stage_sampler(cfg, model.quantizer.stages, torch.Generator().manual_seed(t["seed"] + step))
    gen = torch.Generator().manual_seed(t["seed"] + 1 + step)
    start = time.time()
    bar = tqdm(total=t["steps"], initial=step, file=sys.stderr, mininterval=60, desc=cfg["name"])
    frames = d["tile"] // model.hop
    clock = StepClock(cfg, minutes if step == 0 else None)
    while step < t["steps"]:
        if sized := clock.tick(step):
            say(sized)
            bar.total = t["steps"]
        for g, base in zip(opt.param_groups, bases, strict=True):
            g["lr"] = lr_at(step, cfg) * base / t["lr"]
        x = torch.from_numpy(sampler.batch(t["batch"])).to(device)
        n_active = draw_stages(t["batch"]).to(device)
        lam = lams[torch.randint(len(lams), (t["batch"],), generator=gen)].to(device)
        if r.get("one_stage_only", False):  # price only the tiles decoded from stage 1 alone, where the default lives
            lam = torch.where(n_active == 1, lam, torch.zeros_like(lam))
        z_q, _, commit, soft_bits, nll = rate_quantize(model.quantizer, prior, model.encoder(x), n_active, lam,
                                                       r["tau"], train=not frozen,
                                                       stage_weights=r.get("stage_weights"))
        y = model.decoder(z_q)
        rec = torch.mean((y - x) ** 2)
        if teacher is not None:
            with torch.no_grad():
                target = teacher(z_q)
            rec = rec + r["teacher_weight"] * torch.mean((y - target) ** 2)
        rate = torch.mean(r["kappa"] * lam * soft_bits) / d["tile"]  # beta * bits per sample
        nll_per = nll / (t["batch"] * frames)
        loss = rec + t["commit_weight"] * commit + rate + nll_per * r["prior_weight"]
        descend(opt, loss, model.parameters(), t["clip"])
        step += 1
        bar.update(1)
        if step % t["log_every"] == 0:
            say(f"step {step} rec {rec.item():.5f} commit {commit.item():.4f} rate {rate.item():.5f} "
                f"bits/frame {nll_per.item():.3f} restarts {model.quantizer.restarts.tolist()} "
                f"t {elapsed0 + time.time() - start:.0f}s")
        if step % t["eval_every"] == 0 or step == t["steps"]:
            ev = evaluate_rate(model, prior, val, r["eval_lams"], r["tau"], device, r.get("stage_weights"))
            score = float(np.mean([math.log(p) + math.log(b) for p, b in ev.values()]))
            elapsed = elapsed0 + time.time() - start
            ck = {"model": model.state_dict(), "prior": prior.state_dict(), "opt": opt.state_dict(), "step": step,
                  "elapsed": elapsed, "config": cfg, "val": ev, "device": _device_name(device), "bundle": str(bundle)}
            best = keep(ck, run, score, best)
            say(f"eval step {step}: {ev} score {score:.4f} best {best:.4f} elapsed {elapsed:.0f}s")
    bar.close()
    say("done")
    log.close()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", required=True)
    ap.add_argument("--bundle", type=Path, required=True, help="the shipped bundle to start from")
    ap.add_argument("--data", default=None, help="data folder (default: $VQCODEC_DATA)")
    ap.add_argument("--out", default="runs")
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--minutes", type=float, default=None, help="size the step count to this many minutes")
    args = ap.parse_args(argv)
    cfg = load_config(args.config)
    if args.steps is not None:
        cfg["train"]["steps"] = args.steps
    root = data_root(args.data)
    train_arrays, val = train_val_arrays(root, cfg["data"])
    train_arrays += extra_arrays(root, cfg)
    train_rate(cfg, args.bundle, train_arrays, val, Path(args.out) / cfg["name"], args.resume, args.device,
               args.minutes)


if __name__ == "__main__":
    main()

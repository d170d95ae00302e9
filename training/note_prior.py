"""Train the integer neural note prior of NOTE coding NC06 (vqcodec.midi.prior) and export it as a MIDI bundle's
int8 ONNX graphs; training/note_priors.py builds the bundle's count priors, this the network beside them.

    python -m training.note_prior features --data ../shared/data --splits train,val      # the graphs' inputs
    nice -n 10 python -m training.note_prior train --epochs 12 --out runs/note_prior/model.pt
    python -m training.note_prior export --model runs/note_prior/model.pt --out vqcodec/models/midi-v2

The float network mirrors the integer one layer for layer: tables of token rows summed (embeddings per slot
through one linear layer), activations clipped to 0..ACT_RANGE and rounded to ACT_RANGE / 127 in the forward
pass (straight-through gradients), so that `export` only rounds weights: per output channel to int8 with a
power-of-two scale, the first layers' token tables to int16, the logits to 1/LOGIT_ONE nat.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np

from vqcodec.midi import prior as P

RUNS = Path("runs/note_prior")
ASAP = Path("midi/asap")
ACT_RANGE = 4.0
"""Float activations are clipped to 0..ACT_RANGE; the integer activation a stands for a * ACT_RANGE / ACT_MAX."""
H_TRUNK, H_PITCH, H_VEL, H_DUR1, H_DUR2 = 256, 128, 64, 192, 128
EMBED = {"gap": 8, "vel": 6, "rel": 10, "pitch1": 12, "m_rel": 10, "m_bucket": 4, "m_gap": 8, "m_vel": 6,
         "pitch": 12, "near": 6, "dur": 8, "next_on": 8, "next_same": 8, "m_dur": 8}
"""Embedding width of each slot kind (the name's part after the last '_', or the whole name)."""


def _kind(slot: str) -> str:
    if slot in EMBED:
        return slot
    tail = slot.split("_")[-1]
    if tail in EMBED:
        return tail
    return "".join(c for c in slot if not c.isdigit())


# ---------------------------------------------------------------- features (the codec's own functions)

def features(data: Path, splits: list[str]) -> None:
    """Symbols of every piece at the default level (the encoder's choice) and every graph's input rows."""
    from vqcodec.io.midi import read_midi
    from vqcodec.midi import choice
    from vqcodec.midi.codec import NoteCodec

    codec = NoteCodec.load("midi")
    q = codec.default_quality
    s, pri = codec.setting(q), codec.bundle.priors(q)
    layout = P.Layout(s.velocity_levels, s.duration_levels)
    RUNS.mkdir(parents=True, exist_ok=True)
    names = json.loads((data / ASAP / "SPLITS.json").read_text())
    for split in splits:
        t0 = time.time()
        out: dict[str, list[np.ndarray]] = {}
        for name in names[split]:
            sym = choice.choose(read_midi(data / ASAP / name), s, pri)
            for k, v in piece_features(sym, layout).items():
                out.setdefault(k, []).append(v)
        arrays = {k: np.concatenate(v) for k, v in out.items()}
        arrays["offsets"] = np.cumsum([0] + [len(g) for g in out["gap"]])
        np.savez(RUNS / f"{split}.npz", **arrays)
        print(f"{split}: {len(names[split])} pieces, {arrays['offsets'][-1]} notes, {time.time() - t0:.0f} s",
              flush=True)
    (RUNS / "layout.json").write_text(json.dumps({"velocity_levels": s.velocity_levels,
                                                  "duration_levels": s.duration_levels, "quality": q}))


def piece_features(sym, layout: P.Layout, lanes: int = 1) -> dict[str, np.ndarray]:  # noqa: ANN001
    from vqcodec.midi import coder as nc

    n = len(sym.gap)
    bounds = P.lane_bounds(n, lanes)
    a = P.inputs_a(sym.gap, sym.pitch, sym.velocity, bounds, layout, nc._LaneMatcher)
    next_on, next_same = nc.next_tokens(sym.gap, sym.pitch)
    b = P.inputs_b(sym.gap, sym.pitch, sym.velocity, sym.duration, next_on, next_same, a.match_at, bounds, layout)
    return {"gap": np.minimum(sym.gap, P.DIRECT), "pitch": sym.pitch, "velocity": sym.velocity,
            "duration": sym.duration, "rows_gap": a.gap.astype(np.int32), "rows_pitch": a.pitch.astype(np.int32),
            "ref": a.ref, "match_pitch": a.match_pitch, "bucket": a.bucket,
            "rows_velocity": a.velocity.astype(np.int32), "rows_duration": b.astype(np.int32)}


# ---------------------------------------------------------------- the float network

def _torch():  # noqa: ANN202
    import torch

    torch.set_num_threads(1)
    return torch


def build(layout: P.Layout):  # noqa: ANN201
    torch = _torch()
    nn = torch.nn

    def fq(x):  # noqa: ANN001, ANN202
        """Clip to 0..ACT_RANGE and round to the integer grid in the forward pass only."""
        x = x.clamp(0, ACT_RANGE)
        q = torch.round(x * (P.ACT_MAX / ACT_RANGE)) * (ACT_RANGE / P.ACT_MAX)
        return x + (q - x).detach()

    class Slots(nn.Module):
        """Each slot's token embedding (EMBED wide, clipped and rounded like an activation), side by side."""

        def __init__(self, graph: str) -> None:
            super().__init__()
            self.emb = nn.Embedding(layout.rows(graph), P.EMBED)
            nn.init.uniform_(self.emb.weight, 0.5, 1.5)

        def forward(self, rows):  # noqa: ANN001, ANN202
            return fq(self.emb(rows)).flatten(1)

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            sa, sp, sv, sd = (len(layout.slots(g)) * P.EMBED for g in P.GRAPHS)
            self.e_gap, self.t0, self.t1 = Slots("gap"), nn.Linear(sa, H_TRUNK), nn.Linear(H_TRUNK, H_TRUNK)
            self.gap_out = nn.Linear(H_TRUNK, P.DIRECT + 1)
            self.e_pitch, self.p0 = Slots("pitch"), nn.Linear(sp + H_TRUNK, H_PITCH)
            self.p_abs, self.p_rel = nn.Linear(H_PITCH, 128), nn.Linear(H_PITCH, 2 * P.REL + 1)
            self.bonus = nn.Parameter(torch.full((P.MATCH_BUCKETS,), 1.0))
            self.e_vel, self.v0 = Slots("velocity"), nn.Linear(sv + H_TRUNK, H_VEL)
            self.v_out = nn.Linear(H_VEL, layout.velocity_levels)
            self.e_dur, self.d0, self.d1 = Slots("duration"), nn.Linear(sd, H_DUR1), nn.Linear(H_DUR1, H_DUR2)
            self.d_out = nn.Linear(H_DUR2, layout.duration_levels)

        def forward(self, x):  # noqa: ANN001, ANN202
            h = fq(self.t1(fq(self.t0(self.e_gap(x["rows_gap"])))))
            out = {"gap": self.gap_out(h)}
            z = fq(self.p0(torch.cat([self.e_pitch(x["rows_pitch"]), h], 1)))
            r = torch.nn.functional.pad(self.p_rel(z), (0, 1))
            rel_index = (torch.arange(128)[None] - x["ref"][:, None])
            rel_index = torch.where(rel_index.abs() <= P.REL, rel_index + P.REL, torch.full_like(rel_index, 97))
            onehot = (torch.arange(128)[None] == x["match_pitch"][:, None]).float()
            out["pitch"] = self.p_abs(z) + torch.gather(r, 1, rel_index) + onehot * self.bonus[x["bucket"]][:, None]
            zv = fq(self.v0(torch.cat([self.e_vel(x["rows_velocity"]), h], 1)))
            out["velocity"] = self.v_out(zv)
            zd = fq(self.d1(fq(self.d0(self.e_dur(x["rows_duration"])))))
            out["duration"] = self.d_out(zd)
            return out

    return Net()


STREAMS = ("gap", "pitch", "velocity", "duration")
KEYS = ("rows_gap", "rows_pitch", "ref", "match_pitch", "bucket", "rows_velocity", "rows_duration")


def load(split: str) -> dict[str, np.ndarray]:
    with np.load(RUNS / f"{split}.npz") as z:
        return {k: z[k] for k in z.files}


def _batch(d: dict[str, np.ndarray], idx: np.ndarray) -> dict:
    torch = _torch()
    return {k: torch.from_numpy(d[k][idx].astype(np.int64)) for k in (*KEYS, *STREAMS)}


def layout_of(d: dict[str, np.ndarray]) -> P.Layout:
    return P.Layout(int(d["velocity_levels"]), int(d["duration_levels"]))


def float_bits(net, d: dict[str, np.ndarray]) -> dict[str, float]:  # noqa: ANN001
    """Bits/note of each stream under the float network (natural softmax)."""
    torch = _torch()
    net.eval()
    n = len(d["gap"])
    tot = dict.fromkeys(STREAMS, 0.0)
    with torch.no_grad():
        for a in range(0, n, 8192):
            x = _batch(d, np.arange(a, min(a + 8192, n)))
            out = net(x)
            for k in STREAMS:
                tot[k] += float(torch.nn.functional.cross_entropy(out[k], x[k], reduction="sum")) / math.log(2)
    net.train()
    return {k: v / n for k, v in tot.items()}


def train(epochs: int, batch: int, lr: float, seed: int, out: Path, minutes: float) -> None:
    torch = _torch()
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    tr, va = load("train"), load("val")
    meta = json.loads((RUNS / "layout.json").read_text())
    layout = P.Layout(meta["velocity_levels"], meta["duration_levels"])
    net = build(layout)
    print(f"parameters {sum(p.numel() for p in net.parameters())}; train notes {len(tr['gap'])}", flush=True)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    steps = len(tr["gap"]) // batch
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, lr, total_steps=epochs * steps, pct_start=0.1)
    t0, best = time.time(), float("inf")
    for ep in range(epochs):
        perm = rng.permutation(len(tr["gap"]))
        for i in range(steps):
            x = _batch(tr, perm[i * batch : (i + 1) * batch])
            o = net(x)
            loss = sum(torch.nn.functional.cross_entropy(o[k], x[k]) for k in STREAMS)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        vb = float_bits(net, va)
        total = sum(vb.values())
        print(f"epoch {ep + 1} {time.time() - t0:.0f}s loss {float(loss) / math.log(2):.3f} | val "
              + " ".join(f"{k} {v:.3f}" for k, v in vb.items()) + f" total {total:.3f}", flush=True)
        if total < best:
            best = total
            torch.save({"net": net.state_dict(), "layout": meta, "epoch": ep + 1, "val_bits": vb,
                        "train_s": time.time() - t0}, out)
        if time.time() - t0 > minutes * 60:
            print("time budget reached", flush=True)
            break


# ---------------------------------------------------------------- export: rounding to integers

def _shift_for(max_abs: np.ndarray, limit: int, top: int = 24) -> np.ndarray:
    """Largest s (per channel, 0..top) with max_abs * 2^s <= limit."""
    with np.errstate(divide="ignore"):
        s = np.floor(np.log2(limit / np.maximum(max_abs, 1e-12)))
    return np.clip(s, 0, top).astype(np.int32)


def quantise(net, layout: P.Layout) -> tuple[dict[str, P.Graph], dict[str, int]]:  # noqa: ANN001
    """The integer graphs of a float network and each graph's logit shift."""
    unit = ACT_RANGE / P.ACT_MAX  # float value of one activation step

    def embed(slots) -> np.ndarray:  # noqa: ANN001
        e = slots.emb.weight.detach().numpy()
        return np.clip(np.round(e / unit), 0, P.ACT_MAX).astype(np.uint8)

    def hidden(lin) -> P.Layer:  # noqa: ANN001
        w, b = lin.weight.detach().numpy().T, lin.bias.detach().numpy()
        s = _shift_for(np.abs(w).max(axis=0), P.W_MAX)
        return P.Layer(np.round(w * 2.0 ** s).astype(np.int8), (np.round(b / unit * 2.0 ** s) + (1 << s) // 2)
                       .astype(np.int32), s)

    def output(*lins, extra: np.ndarray | None = None) -> tuple[list[P.Layer], int, np.ndarray | None]:  # noqa: ANN001
        ws = [lin.weight.detach().numpy().T for lin in lins]
        m = max(float(np.abs(w).max()) for w in ws)
        s = int(_shift_for(np.array([m * unit * P.LOGIT_ONE]), P.W_MAX)[0])
        scale = P.LOGIT_ONE * 2.0 ** s
        layers = [P.Layer(np.round(w * unit * scale).astype(np.int8),
                          np.round(lin.bias.detach().numpy() * scale).astype(np.int32), None)
                  for w, lin in zip(ws, lins)]
        return layers, s, None if extra is None else np.round(extra * scale).astype(np.int32)

    graphs, shifts = {}, {}
    outs, shifts["gap"], _ = output(net.gap_out)
    graphs["gap"] = P.Graph("gap", embed(net.e_gap), [hidden(net.t0), hidden(net.t1), *outs])
    (absl, rell), shifts["pitch"], bonus = output(net.p_abs, net.p_rel, extra=net.bonus.detach().numpy())
    graphs["pitch"] = P.Graph("pitch", embed(net.e_pitch), [hidden(net.p0), absl], trunk=True, rel=rell,
                              bonus=bonus)
    outs, shifts["velocity"], _ = output(net.v_out)
    graphs["velocity"] = P.Graph("velocity", embed(net.e_vel), [hidden(net.v0), *outs], trunk=True)
    outs, shifts["duration"], _ = output(net.d_out)
    graphs["duration"] = P.Graph("duration", embed(net.e_dur), [hidden(net.d0), hidden(net.d1), *outs])
    return graphs, shifts


def integer_bits(graphs: dict[str, P.Graph], shifts: dict[str, int], d: dict[str, np.ndarray]) -> dict[str, float]:
    """Bits/note of each stream under the integer graphs (numpy reference) and the integer softmax, as coded
    (24-bit frequencies are left to the coder; this is -log2 of weight / row sum)."""
    n = len(d["gap"])
    tot = dict.fromkeys(STREAMS, 0.0)
    for a in range(0, n, 8192):
        sl = slice(a, min(a + 8192, n))
        h, lg = P.reference(graphs["gap"], d["rows_gap"][sl])
        rel_index, onehot = P.pitch_extras(d["ref"][sl], d["match_pitch"][sl])
        _, lp = P.reference(graphs["pitch"], d["rows_pitch"][sl], h, rel_index, onehot, d["bucket"][sl])
        _, lv = P.reference(graphs["velocity"], d["rows_velocity"][sl], h)
        _, ld = P.reference(graphs["duration"], d["rows_duration"][sl])
        for k, lo in zip(STREAMS, (lg, lp, lv, ld)):
            w = P.weights(lo, shifts[k])
            x = d[k][sl]
            tot[k] += float(-np.log2(w[np.arange(len(x)), x] / w.sum(axis=1)).sum())
    return {k: v / n for k, v in tot.items()}


def export(model: Path, folder: Path, base: Path = Path("vqcodec/models/midi-v1")) -> None:
    """Write the integer graphs into bundle folder `folder` (a MIDI bundle: `base`'s ladder and count priors, found
    beside it, plus the prior), with its manifest and the val bits of the float and the integer network."""
    import platform

    from vqcodec.models.bundle import file_sha256

    torch = _torch()
    ck = torch.load(model, map_location="cpu")
    layout = P.Layout(ck["layout"]["velocity_levels"], ck["layout"]["duration_levels"])
    net = build(layout)
    net.load_state_dict(ck["net"])
    net.eval()
    graphs, shifts = quantise(net, layout)
    va = load("val")
    fb, ib = float_bits(net, va), integer_bits(graphs, shifts, va)
    print("val float  ", {k: round(v, 4) for k, v in fb.items()}, round(sum(fb.values()), 4))
    print("val integer", {k: round(v, 4) for k, v in ib.items()}, round(sum(ib.values()), 4))
    folder.mkdir(parents=True, exist_ok=True)
    paths = P.save_graphs(graphs, folder)
    np.save(folder / "prior_exp.npy", P.EXP_TABLE)
    old = json.loads((base / "manifest.json").read_text())
    old_id = file_sha256(base / "manifest.json")
    files = dict(old["files"])
    for f in [*paths.values(), folder / "prior_exp.npy"]:
        files[f.name] = file_sha256(f)
    manifest = {k: v for k, v in old.items() if k not in ("files", "compatible_ids", "name", "version", "command",
                                                         "machine", "training_time_s")}
    manifest |= {
        "name": folder.name, "version": "2", "files": files,
        "compatible_ids": [*old.get("compatible_ids", []), old_id],
        "command": f"python -m training.note_prior export --model {model} --out {folder}",
        "machine": f"{platform.machine()}, cpu, python {platform.python_version()}",
        "training_time_s": round(float(ck["train_s"]) + float(old.get("training_time_s", 0)), 1),
        "prior": {"quality": int(ck["layout"]["quality"]), "graphs": {g: p.name for g, p in paths.items()},
                  "shifts": shifts, "exp": "prior_exp.npy", "velocity_levels": layout.velocity_levels,
                  "duration_levels": layout.duration_levels, "epoch": int(ck["epoch"]),
                  "val_bits_per_note_float": {k: round(v, 4) for k, v in fb.items()},
                  "val_bits_per_note_integer": {k: round(v, 4) for k, v in ib.items()}},
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    print("model id", file_sha256(folder / "manifest.json"))


MIX_SHARES = (0, 16, 32, 48, 64, 96, 128)
MIX_WINDOWS = (16, 32, 64, 128, 256)


def _recent_counts(x: np.ndarray, bounds: np.ndarray, alphabet: int, window: int) -> np.ndarray:
    """Per note, the counts of each symbol among its lane's previous `window` symbols (what `Recent` holds)."""
    out = np.zeros((len(x), alphabet), np.int64)
    for a, b in zip(bounds[:-1], bounds[1:]):
        hot = np.eye(alphabet, dtype=np.int64)[x[a:b]]
        cum = np.concatenate([np.zeros((1, alphabet), np.int64), np.cumsum(hot, axis=0)])
        i = np.arange(b - a)
        out[a:b] = cum[i] - cum[np.maximum(i - window, 0)]
    return out


def choose_mix(bundle: Path, data: Path) -> dict[str, list[int]]:
    """Per stream, the (share, window) of the recent-symbol mixture with the fewest bits on the val pieces, each
    piece in the lanes the encoder gives it (the bundle's graphs, integer weights as coded)."""
    from vqcodec.io.midi import read_midi
    from vqcodec.midi import choice
    from vqcodec.midi import coder as nc
    from vqcodec.midi.codec import NoteCodec

    codec = NoteCodec.load(bundle)
    q = codec.default_quality
    s, pri, net = codec.setting(q), codec.bundle.priors(q), codec.bundle.prior()
    assert net is not None
    layout = P.Layout(s.velocity_levels, s.duration_levels)
    names = json.loads((data / ASAP / "SPLITS.json").read_text())["val"]
    bits = {g: np.zeros((len(MIX_SHARES), len(MIX_WINDOWS))) for g in P.GRAPHS}
    for name in names:
        sym = choice.choose(read_midi(data / ASAP / name), s, pri)
        n = len(sym.gap)
        bounds = P.lane_bounds(n, nc.lanes_for(n))
        a = P.inputs_a(sym.gap, sym.pitch, sym.velocity, bounds, layout, nc._LaneMatcher)
        hidden, lg = net.run("gap", a.gap)
        rel_index, onehot = P.pitch_extras(a.ref, a.match_pitch)
        next_on, next_same = nc.next_tokens(sym.gap, sym.pitch)
        rows_b = P.inputs_b(sym.gap, sym.pitch, sym.velocity, sym.duration, next_on, next_same, a.match_at, bounds,
                            layout)
        logits = {"gap": lg, "pitch": net.run("pitch", a.pitch, hidden, rel_index, onehot, a.bucket)[1],
                  "velocity": net.run("velocity", a.velocity, hidden)[1], "duration": net.run("duration", rows_b)[1]}
        xs = {"gap": np.minimum(sym.gap, P.DIRECT), "pitch": sym.pitch, "velocity": sym.velocity,
              "duration": sym.duration}
        for g in P.GRAPHS:
            w, x = net.softmax(g, logits[g]), xs[g]
            for j, window in enumerate(MIX_WINDOWS):
                counts = _recent_counts(x, bounds, w.shape[1], window)
                for i, share in enumerate(MIX_SHARES):
                    m = P.mixed(w, counts, P.Mix(share, window))
                    bits[g][i, j] += float(-np.log2(m[np.arange(n), x] / m.sum(axis=1)).sum())
    out = {}
    for g in P.GRAPHS:
        i, j = np.unravel_index(np.argmin(bits[g]), bits[g].shape)
        out[g] = [MIX_SHARES[i], MIX_WINDOWS[j]]
        print(g, "alone", round(bits[g][0, 0], 1), "best", out[g], round(bits[g][i, j], 1), flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("cmd", choices=("features", "train", "export", "mix"))
    ap.add_argument("--data", type=Path, default=Path("../shared/data"))
    ap.add_argument("--splits", default="train,val")
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--model", type=Path, default=RUNS / "model.pt")
    ap.add_argument("--out", type=Path, default=RUNS / "model.pt")
    args = ap.parse_args()
    if args.cmd == "features":
        features(args.data, args.splits.split(","))
    elif args.cmd == "train":
        train(args.epochs, args.batch, args.lr, args.seed, args.out, args.minutes)
    elif args.cmd == "export":
        export(args.model, args.out)
    else:  # the bundle's recent-symbol mixture, chosen on val, into its manifest
        mix = choose_mix(args.out, args.data)
        manifest = json.loads((args.out / "manifest.json").read_text())
        manifest["prior"]["mix"] = mix
        (args.out / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()

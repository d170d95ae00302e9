"""Export a midi-vq checkpoint (training/midi_vq.py) to the bundle vqcodec/models/midi-vq, which
vqcodec/midi/vq.py runs: the two ONNX graphs, the codebooks, the priors counted on the train split, the manifest
(sha256 of every file, the ladder, how it was made, val figures) and a parity check of torch against onnxruntime.

    python -m training.export_midi_vq --checkpoint runs/midi-vq/best.pt --data $VQCODEC_DATA \
        --out vqcodec/models/midi-vq [--levels 1:100:20:2:24,2:100:20:2:24,...] [--default 3] [--val]

A level is stages:onset_bound_ms:anchor_ms:pedal_levels:pedal_grid_ms. The priors: the code indices' bigram
counts (every stage) and the pitch streams' counts over the train pieces, and per level the onset corrections'
counts, from what the runtime itself computes on them. --val measures every level on the val pieces (bits/note
of the whole .vqc file, onset F1 at 50 ms, onset errors, velocity error) and writes them into the manifest; test is
never read here.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from training.midi_vq import ASAP, MidiVQ
from vqcodec.coding.entropy import count_bigrams
from vqcodec.io.midi import read_midi
from vqcodec.midi.vq import CORRECTION_CONTEXTS, CORRECTION_SYMBOLS, PEDAL_SETTING, VQ_CODER, VqNoteCodec, count_notes
from vqcodec.midi.vq_features import note_features
from vqcodec.models.bundle import MANIFEST, file_sha256, load_note_bundle

OPSET = 17
PEDAL_PRIORS = "priors-q1.npz"
"""midi-v1's level-1 tables (setting PEDAL_SETTING): the pedal stream's priors, stored once, in midi-v1."""
PARITY_TOLERANCE = 1e-4


def export_graphs(model: MidiVQ, window: int, out: Path) -> None:
    model.eval()
    hop = window // model.encoder(torch.zeros(1, 3, window), torch.zeros(1, window, dtype=torch.long)).shape[2]
    latent = model.vq.embed.shape[2]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model.encoder, (torch.zeros(2, 3, window), torch.full((2, window), 60, dtype=torch.long)),
                          str(out / "encoder.onnx"), dynamo=False, input_names=["features", "pitch"],
                          output_names=["latent"], opset_version=OPSET,
                          dynamic_axes={"features": {0: "windows"}, "pitch": {0: "windows"}, "latent": {0: "windows"}})
        torch.onnx.export(model.decoder, (torch.zeros(2, latent, window // hop),
                                          torch.full((2, window), 60, dtype=torch.long)),
                          str(out / "decoder.onnx"), dynamo=False, input_names=["latent", "pitch"],
                          output_names=["features"], opset_version=OPSET,
                          dynamic_axes={"latent": {0: "windows"}, "pitch": {0: "windows"}, "features": {0: "windows"}})
    np.save(out / "codebooks.npy", model.vq.embed.numpy().astype(np.float32))


def parity(model: MidiVQ, out: Path, pieces: list, window: int) -> float:
    """Largest |torch - onnxruntime| of the decoder's features on val windows (all stages kept)."""
    from vqcodec.models.runtime import session

    enc, dec = session(out / "encoder.onnx", 1), session(out / "decoder.onnx", 1)
    feats = np.stack([f[a : a + window].T for f, p in pieces[:3] for a in range(0, len(p) - window + 1, window)][:64])
    pitch = np.stack([p[a : a + window] for f, p in pieces[:3] for a in range(0, len(p) - window + 1, window)][:64])
    with torch.no_grad():
        z = model.encoder(torch.from_numpy(feats), torch.from_numpy(pitch))
        quants, _ = model.vq(z)
        ref = model.decoder(quants.sum(0), torch.from_numpy(pitch)).numpy()
    z_onnx = enc.run(None, {"features": feats, "pitch": pitch})[0]
    got = dec.run(None, {"latent": quants.sum(0).numpy(), "pitch": pitch})[0]
    return float(max(np.abs(z_onnx - z.numpy()).max(), np.abs(got - ref).max()))


def parse_levels(text: str) -> list[dict]:
    out = []
    for item in text.split(","):
        stages, bound, anchor, pedal, grid = (int(x) for x in item.split(":"))
        out.append({"stages": stages, "onset_bound_ms": bound, "anchor_ms": anchor, "pedal_levels": pedal,
                    "pedal_grid_ms": grid})
    return out


def write_manifest(out: Path, manifest: dict) -> None:
    manifest["files"] = {name: file_sha256(out / name) for name in ("encoder.onnx", "decoder.onnx", "codebooks.npy",
                                                                 "priors.npz")}
    midi_v1 = out.parent / "midi-v1" / PEDAL_PRIORS
    manifest["files"][PEDAL_PRIORS] = file_sha256(midi_v1)
    (out / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", required=True, type=Path)
    ap.add_argument("--data", required=True, type=Path)
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--levels", default="1:100:20:2:24,2:100:20:2:24,4:100:20:2:24,6:100:20:2:24")
    ap.add_argument("--default", type=int, default=3, help="the default quality level (1-based)")
    ap.add_argument("--val", action="store_true", help="measure every level on the val pieces")
    args = ap.parse_args()
    torch.set_num_threads(1)
    state = torch.load(args.checkpoint, map_location="cpu", weights_only=False)
    cfg = state["config"]
    model = MidiVQ(cfg["model"])
    model.load_state_dict(state["model"])
    window = cfg["data"]["window"]
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    export_graphs(model, window, out)
    levels = parse_levels(args.levels)
    split = json.loads((args.data / ASAP / "SPLITS.json").read_text())
    t0 = time.time()
    train = [read_midi(args.data / ASAP / n) for n in split["train"]]
    val_pieces = [read_midi(args.data / ASAP / n) for n in split["val"]]
    err = parity(model, out, [(note_features(p.onset, p.offset, p.velocity), p.pitch.astype(np.int64))
                              for p in val_pieces], window)
    print(f"parity: max |torch - onnxruntime| = {err:.2e}", flush=True)
    if err > PARITY_TOLERANCE:
        raise SystemExit(f"parity {err} over {PARITY_TOLERANCE}")
    s, k = model.vq.embed.shape[:2]
    priors = {"index": np.zeros((s, k + 1, k), np.int64),
              "pitch_hit": np.zeros((0,), np.int64), "pitch_miss": np.zeros((0,), np.int64),
              "correction": np.zeros((len(levels), CORRECTION_CONTEXTS, CORRECTION_SYMBOLS), np.int64)}
    pitch_counts = count_notes(np.zeros(0, np.int64), None, window)
    priors |= pitch_counts
    np.savez_compressed(out / "priors.npz", **priors)
    manifest = {
        "name": "midi-vq", "kind": "midi", "coder": VQ_CODER, "format_version": 1,
        "window": window, "hop": cfg["model"]["hop"], "stages": s, "codes": k, "latent": cfg["model"]["latent"],
        "priors": "priors.npz", "pedal_priors": PEDAL_PRIORS,
        "pedal_setting": list(PEDAL_SETTING.grids),
        "levels": levels, "default_quality": args.default,
        "data": {"train": f"asap train split ({len(train)} pieces)", "select": "val"},
        "training": {"config": cfg, "step": state["step"], "val": state["val"]},
        "command": "python -m training.export_midi_vq " + " ".join(
            f"--{k} {v}" for k, v in (("checkpoint", args.checkpoint), ("out", out), ("levels", args.levels),
                                      ("default", args.default))),
    }
    write_manifest(out, manifest)
    codec = VqNoteCodec(load_note_bundle(out))
    for p in train:
        codes_all = codec.model.encode(p)
        priors["index"] += count_bigrams(codes_all.transpose(1, 0, 2).reshape(1, s, -1), k)
        for name, table in count_notes(p.pitch.astype(np.int64), None, window).items():
            priors[name] += table
        for q in range(1, len(levels) + 1):
            c = codec.codes(p, q)
            priors["correction"][q - 1] += count_notes(c.pitch, c.corrections, window)["correction"]
    print(f"priors counted on {len(train)} train pieces ({time.time() - t0:.0f} s)", flush=True)
    np.savez_compressed(out / "priors.npz", **priors)
    write_manifest(out, manifest)
    if args.val:
        codec = VqNoteCodec(load_note_bundle(out))
        manifest["val"] = measure(codec, val_pieces)
        write_manifest(out, manifest)
    print(json.dumps(manifest.get("val", {}), indent=1))


def measure(codec: VqNoteCodec, pieces: list) -> list[dict]:
    """Per level, over the pieces: bits/note of the whole file, onset F1 at 50 ms, onset error median and max,
    velocity MAE (note-weighted)."""
    rows = []
    for q in codec.qualities:
        bits = notes = 0
        f1, med, vel = [], [], []
        worst = 0.0
        for p in pieces:
            data, r = codec.compress(p, q)
            bits += 8 * len(data)
            notes += len(p)
            f1.append(r.f1_onset * len(p))
            med.append(r.onset_err_ms_median * len(p))
            vel.append(r.velocity_mae * len(p))
            worst = max(worst, r.onset_err_ms_max)
        row = {"quality": q, "bits_per_note": round(bits / notes, 3), "f1_onset": round(sum(f1) / notes, 4),
               "onset_err_ms_median": round(sum(med) / notes, 2), "onset_err_ms_max": round(worst, 2),
               "velocity_mae": round(sum(vel) / notes, 2)}
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


if __name__ == "__main__":
    main()

"""A timing bundle for a cheaper decoder: a shipped bundle with its decoder.onnx replaced by a checkpoint's decoder,
so `benchmarks/speed.py` can time the whole CLI with it against the shipped model, in one run.

    python benchmarks/decoder_swap.py --checkpoint runs/distill-dec/c16-24-48-96-lr3e4/best.pt --out /tmp/ecg-fast
    python benchmarks/speed.py --record data/ecg/mitdb/103 --models ecg-v4,/tmp/ecg-fast

The bundle is for timing only: its ladder and priors are the shipped model's, calibrated for the shipped decoder,
so its PRDN figures mean nothing (its name says so). A model to ship is exported and calibrated by `training/`.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import torch

from training.export import context, export_onnx
from training.model import VQVAE
from vqcodec.models.bundle import MANIFEST, file_sha256, load_bundle

SHIPPED = Path(__file__).resolve().parents[1] / "vqcodec" / "models" / "ecg-v4"


def swap(checkpoint: Path, out: Path, base: Path = SHIPPED) -> Path:
    """Copy `base` to `out` with the checkpoint's decoder in place of its own; returns `out`."""
    ck = torch.load(checkpoint, weights_only=False, map_location="cpu")
    model = VQVAE(ck["config"])
    model.load_state_dict(ck["model"])
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(base, out)
    export_onnx(model, out)  # writes both graphs; the encoder goes back to the base's below
    shutil.copyfile(base / "encoder.onnx", out / "encoder.onnx")
    manifest = json.loads((out / MANIFEST).read_text())
    manifest["name"] = f"{manifest['name']}-decoder-of-{checkpoint.parent.name}-timing-only"
    manifest["files"]["decoder.onnx"] = file_sha256(out / "decoder.onnx")
    manifest["context"] = context(out, model.hop)
    manifest.pop("compatible_ids", None)  # it decodes none of the base's files alike
    (out / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    load_bundle(out)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", required=True, type=Path, help="a checkpoint with a decoder (train.py's layout)")
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--base", type=Path, default=SHIPPED, help="the bundle to copy (default: ecg-v4)")
    args = ap.parse_args()
    print(swap(args.checkpoint, args.out, args.base))


if __name__ == "__main__":
    main()

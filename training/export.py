"""Export a trained checkpoint to a runtime model bundle and check torch/onnxruntime parity.

`python -m training.export --checkpoint runs/ecg-v1/best.pt --out vqcodec/models/ecg-v1`
writes encoder.onnx, decoder.onnx, codebooks.npy, code_bits.npy (each code's -log2 frequency on the
train split, for entropy-constrained quantisation) and manifest.json (sha256 of every file).
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import sys
import warnings
from pathlib import Path

import numpy as np
import torch

from training.cpu_graph import GRAPHS, rewrite_file
from training.data import data_root, load_record_channels, mitdb_split, normalized_channels
from training.model import VQVAE
from vqcodec.ecg.framing import reach
from vqcodec.models.bundle import MANIFEST, PRIORS, REQUIRED_FILES, STAGE_PRIORS, Bundle, file_sha256, load_bundle
from vqcodec.models.runtime import session

OPSET = 17
FORMAT_VERSION = 1
BITS_SAMPLES = 5 * 60 * 360
"""Samples of each train record (5 minutes at 360 Hz) used to count code frequencies."""
DECODER_TOLERANCE = 1e-4
"""Largest |difference| between two decoder graphs, on a random latent, for them to count as one decoder."""


def export_onnx(model: VQVAE, out: Path) -> None:
    """Write encoder.onnx ([B,1,T] -> [B,D,T/hop]) and decoder.onnx ([B,D,F] -> [B,1,F*hop]), in the CPU form of
    training.cpu_graph."""
    model.eval()
    hop = model.hop
    latent = model.quantizer.dim
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        torch.onnx.export(
            model.encoder, (torch.zeros(1, 1, 4 * hop),), str(out / "encoder.onnx"), dynamo=False,
            input_names=["signal"], output_names=["latent"], opset_version=OPSET,
            dynamic_axes={"signal": {0: "batch", 2: "samples"}, "latent": {0: "batch", 2: "frames"}},
        )
        torch.onnx.export(
            model.decoder, (torch.zeros(1, latent, 4),), str(out / "decoder.onnx"), dynamo=False,
            input_names=["latent"], output_names=["signal"], opset_version=OPSET,
            dynamic_axes={"latent": {0: "batch", 2: "frames"}, "signal": {0: "batch", 2: "samples"}},
        )
    for name in GRAPHS:
        rewrite_file(out / name)


def context(out: Path, hop: int, n: int = 1 << 15, seed: int = 0) -> dict:
    """How far a change reaches through the exported graphs (vqcodec.ecg.framing.reach): the encoder in samples, the
    decoder in frames. The runtime widens its chunk margins to these when they exceed its defaults."""
    x = np.random.default_rng(seed).standard_normal((1, 1, n - n % hop)).astype(np.float32)
    encoder, decoder = session(out / "encoder.onnx"), session(out / "decoder.onnx")
    encode = lambda a: encoder.run(None, {"signal": a})[0]  # noqa: E731
    decode = lambda a: decoder.run(None, {"latent": a})[0]  # noqa: E731
    return {"encoder_samples": reach(encode, x, 1 / hop), "decoder_frames": reach(decode, encode(x), hop)}


def parity(model: VQVAE, out: Path, n: int = 8192, seed: int = 0) -> dict:
    """Max |torch - onnxruntime| for the encoder latent and the decoder output on a random signal."""
    x = np.random.default_rng(seed).standard_normal((1, 1, n)).astype(np.float32)
    with torch.no_grad():
        z_t = model.encoder(torch.from_numpy(x)).numpy()
        y_t = model.decoder(torch.from_numpy(z_t)).numpy()
    z_o = session(out / "encoder.onnx").run(None, {"signal": x})[0]
    y_o = session(out / "decoder.onnx").run(None, {"latent": z_t})[0]
    return {"encoder_max_abs": float(np.abs(z_t - z_o).max()), "decoder_max_abs": float(np.abs(y_t - y_o).max())}


@torch.no_grad()
def code_bits(model: VQVAE, arrays: list[np.ndarray] | None) -> np.ndarray:
    """-log2 of each code's frequency per stage on normalised arrays (add-one smoothed); uniform if None."""
    q = model.quantizer
    counts = np.ones((q.stages, q.codes))
    for x in arrays or []:
        _, idx, _ = q(model.encoder(torch.from_numpy(x)[None, None]))
        for s in range(q.stages):
            counts[s] += np.bincount(idx[0, s].numpy(), minlength=q.codes)
    return (-np.log2(counts / counts.sum(1, keepdims=True))).astype(np.float32)


def export(
    checkpoint: Path, out: Path, default_quality: int, command: str, bits_from: list[np.ndarray] | None = None,
    extra: dict | None = None, decoding_of: Path | None = None,
) -> dict:
    """Write the bundle for `checkpoint` into `out` and return its manifest.

    The quality ladder is one level per number of stages; training.calibrate refines it on `val`. With
    `decoding_of` (a bundle whose quantiser and decoder the checkpoint kept, as training.distill's students do),
    the new bundle takes that bundle's decoder.onnx, codebooks and priors byte for byte, after checking they are
    the checkpoint's, and lists its ids as compatible: it then decodes every file the earlier bundle wrote.
    """
    ck = torch.load(checkpoint, weights_only=False, map_location="cpu")
    cfg = ck["config"]
    if cfg["model"].get("quantizer", "rvq") != "rvq":
        raise SystemExit("export writes residual-VQ bundles only (the runtime searches explicit codebooks)")
    model = VQVAE(cfg)
    model.load_state_dict(ck["model"])
    model.eval()
    out.mkdir(parents=True, exist_ok=True)
    export_onnx(model, out)
    np.save(out / "codebooks.npy", model.quantizer.codebooks.numpy().astype(np.float32), allow_pickle=False)
    np.save(out / "code_bits.npy", code_bits(model, bits_from), allow_pickle=False)
    base = _take_decoding(out, decoding_of) if decoding_of else None
    check = parity(model, out)
    m, d = cfg["model"], cfg["data"]
    manifest = {
        "name": cfg["name"],
        "kind": cfg["kind"],
        "format_version": FORMAT_VERSION,
        "fs": d["fs"],
        "hop": model.hop,
        "block_frames": d["block_frames"],
        "latent": m["latent"],
        "stages": m["stages"],
        "codes": m["codes"],
        "default_quality": default_quality,
        "qualities": {str(q): {"stages": q, "lambda": 0.0} for q in range(1, m["stages"] + 1)},
        "training": {
            "command": command,
            "config": cfg,
            "data_split": {"train": d["train_split"], "val": d["val_split"]},
            "steps": ck["step"],
            "seconds": round(ck["elapsed"]),
            "machine": ck.get("device") or f"{platform.machine()}, {torch.get_num_threads()} threads, cpu",
            "torch": torch.__version__,
        },
        "val_metrics": ck["val"],
        "parity": check,
        "context": context(out, model.hop),
        "files": {f: file_sha256(out / f) for f in REQUIRED_FILES},
    }
    if base is not None:
        manifest["compatible_ids"] = sorted(base.compatible_ids)
        manifest["decoding_of"] = base.name
        for name, key in ((PRIORS, "priors"), (STAGE_PRIORS, "stage_priors")):
            if name in base.manifest["files"]:
                manifest["files"][name] = file_sha256(out / name)
                manifest[key] = {**base.manifest[key], "from": base.name}
    if extra:
        manifest.update(extra)
    (out / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    load_bundle(out)  # verifies what was just written
    return manifest


def _take_decoding(out: Path, base_path: Path) -> Bundle:
    """Replace out's decoder.onnx and codebooks.npy with `base_path`'s (and copy its priors) once they are shown
    to decode alike; return that bundle."""
    base = load_bundle(base_path)
    if not np.array_equal(np.load(out / "codebooks.npy"), base.codebooks):
        raise SystemExit(f"{base_path}: the checkpoint's codebooks are not this bundle's")
    z = np.random.default_rng(0).standard_normal((1, base.codebooks.shape[2], 256)).astype(np.float32)
    mine, theirs = session(out / "decoder.onnx"), session(base.file("decoder.onnx"))
    diff = np.abs(mine.run(None, {"latent": z})[0] - theirs.run(None, {"latent": z})[0]).max()
    if diff > DECODER_TOLERANCE:
        raise SystemExit(f"{base_path}: the checkpoint's decoder differs from this bundle's "
                         f"(max {diff:.3g})")
    for name in ("decoder.onnx", "codebooks.npy", PRIORS, STAGE_PRIORS):
        if base.file(name).exists():  # a file may be stored once, in an earlier bundle beside this one
            shutil.copyfile(base.file(name), out / name)
    return base


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--checkpoint", required=True, type=Path)
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--default-quality", type=int, default=1)
    ap.add_argument("--command", default="", help="the training command to record in the manifest")
    ap.add_argument("--data", default=None, help="data folder for the code frequencies (default: $VQCODEC_DATA)")
    ap.add_argument("--bits-samples", type=int, default=BITS_SAMPLES, help="samples per train record used")
    ap.add_argument("--decoding-of", type=Path, default=None,
                    help="a bundle whose quantiser and decoder the checkpoint kept (a distilled encoder's teacher)")
    ap.add_argument("--name", default=None, help="the bundle's name (default: the checkpoint config's)")
    ap.add_argument("--note", default="", help="free text about the run (e.g. resumes), kept in the manifest")
    args = ap.parse_args(argv)
    cfg = torch.load(args.checkpoint, weights_only=False, map_location="cpu")["config"]
    root = data_root(args.data)
    d = cfg["data"]
    arrays = normalized_channels(
        load_record_channels(root, mitdb_split(root, d["train_split"]), args.bits_samples), d["block_samples"])
    this = "python -m training.export " + " ".join(argv if argv is not None else sys.argv[1:])
    extra = {"export_command": this, "note": args.note, **({"name": args.name} if args.name else {})}
    man = export(args.checkpoint, args.out, args.default_quality, args.command, arrays, extra, args.decoding_of)
    print(json.dumps({"files": man["files"], "parity": man["parity"]}, indent=1))


if __name__ == "__main__":
    main()

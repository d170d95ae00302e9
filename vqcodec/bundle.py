"""Model bundles: manifest.json + encoder.onnx + decoder.onnx + codebooks.npy + code_bits.npy, verified by sha256.

The model id written into every .vqc file is the sha256 of manifest.json, which itself lists the sha256
of every other file, so the id names the exact bytes of the whole bundle.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from vqcodec.errors import BundleError, ModelNotFoundError

MANIFEST = "manifest.json"
REQUIRED_FILES = ("encoder.onnx", "decoder.onnx", "codebooks.npy", "code_bits.npy")
ALIASES = {"ecg": "ecg-v1"}
"""Short names users type; each maps to the shipped bundle it stands for."""


@dataclass
class Bundle:
    """A verified model bundle on disk."""

    path: Path
    manifest: dict
    model_id: str
    codebooks: np.ndarray  # [stages, codes, latent] float32
    code_bits: np.ndarray  # [stages, codes] float32: -log2 of each code's frequency on the training data

    @property
    def name(self) -> str:
        return str(self.manifest["name"])


def shipped_root() -> Path:
    """Folder holding the bundles shipped as package data."""
    return Path(str(resources.files("vqcodec") / "models"))


def installed_models() -> list[str]:
    """Names of the shipped bundles."""
    root = shipped_root()
    return sorted(p.name for p in root.iterdir() if (p / MANIFEST).is_file()) if root.is_dir() else []


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_bundle(model: str | Path) -> Bundle:
    """Load a bundle by path, name or alias; check every file's sha256 before anything parses it."""
    path = Path(model)
    if not (path / MANIFEST).is_file():
        name = ALIASES.get(str(model), str(model))
        path = shipped_root() / name
        if not (path / MANIFEST).is_file():
            raise ModelNotFoundError(
                f"{model}: no such model (installed: {', '.join(installed_models()) or 'none'})"
            )
    raw = (path / MANIFEST).read_bytes()
    try:
        manifest = json.loads(raw)
        files = manifest["files"]
        for key in ("name", "kind", "fs", "hop", "block_frames", "stages", "codes", "default_quality"):
            manifest[key]
    except (ValueError, KeyError, TypeError) as e:
        raise BundleError(f"{path / MANIFEST}: malformed manifest ({e})") from e
    for f in REQUIRED_FILES:
        if f not in files or not (path / f).is_file():
            raise BundleError(f"{path}: bundle is missing {f}")
        if _sha256(path / f) != files[f]:
            raise BundleError(f"{path / f}: sha256 does not match the manifest (file damaged or edited)")
    stages, codes = manifest["stages"], manifest["codes"]
    codebooks = _array(path / "codebooks.npy", (stages, codes, manifest["latent"]))
    code_bits = _array(path / "code_bits.npy", (stages, codes))
    return Bundle(path, manifest, hashlib.sha256(raw).hexdigest(), codebooks, code_bits)


def _array(path: Path, shape: tuple[int, ...]) -> np.ndarray:
    """A float32 array file of the expected shape, or BundleError."""
    try:
        a = np.load(path, allow_pickle=False)
    except ValueError as e:
        raise BundleError(f"{path}: unreadable ({e})") from e
    if a.shape != shape or not np.all(np.isfinite(a)):
        raise BundleError(f"{path}: shape {a.shape} or values disagree with the manifest")
    return a.astype(np.float32)


def find_by_id(model_id: str) -> Bundle | None:
    """The installed bundle whose id is model_id, if any."""
    for name in installed_models():
        b = load_bundle(shipped_root() / name)
        if b.model_id == model_id:
            return b
    return None

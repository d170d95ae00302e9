"""Edited copies of model bundles for the mismatch tests: a consistent bundle whose id differs; uses vqcodec.models."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from vqcodec.models.bundle import shipped_root

OPTIONAL_ECG = ("ecg-v5",)
"""ECG models shipped whole beside the default, picked by name (`-m ecg-v5`: its decoder twice as fast, at more
bits for the same PRDN at the finest levels; its model card)."""


def edited_bundle(src: Path, dst: Path, **manifest_changes: object) -> Path:
    """A copy of a bundle with manifest fields changed: a consistent bundle whose id (sha256) differs."""
    shutil.copytree(src, dst)
    manifest = json.loads((dst / "manifest.json").read_text())
    manifest.update(manifest_changes)
    (dst / "manifest.json").write_text(json.dumps(manifest))
    return dst


def copied_bundle(tmp_path: Path, name: str = "midi-other") -> Path:
    """The shipped midi-v1 bundle copied to tmp_path/name and renamed there: same priors, another id."""
    folder = tmp_path / name
    shutil.copytree(shipped_root() / "midi-v1", folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["name"] = name
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return folder

"""Model bundles: find, sha256-verify and load them; vqcodec.models.runtime runs their ONNX graphs.

An ECG bundle holds encoder.onnx + decoder.onnx + codebooks.npy + code_bits.npy (+ priors.npy, stage_priors.npz).
The model id written into every .vqc file is the sha256 of manifest.json, which itself lists the sha256
of every other file, so the id names the exact bytes of the whole bundle. A bundle whose decoding path is
unchanged from an earlier one (same decoder, codebooks and layout; e.g. a new quality ladder or index prior)
lists the earlier ids in manifest["compatible_ids"], and decodes their files.

Earlier models ship decode-only: their manifest is unchanged (so is their id), but the files only compression
reads (ENCODER_FILES) are absent, so they decode the files they wrote and refuse to write new ones. A file a
manifest lists that is absent from its folder is looked for under the same name in the bundles beside it, and
used if that bundle's manifest lists the same sha256 and the file has it: byte-identical files are stored once.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from vqcodec.errors import BundleError, ModelNotFoundError

if TYPE_CHECKING:
    from vqcodec.midi.prior import Prior

MANIFEST = "manifest.json"
REQUIRED_FILES = ("encoder.onnx", "decoder.onnx", "codebooks.npy", "code_bits.npy")
"""The files every ECG bundle's manifest lists (training.export writes them)."""
ENCODER_FILES = ("encoder.onnx", "code_bits.npy")
"""What only compression reads (the encoder graph, and the code costs its search weighs): a bundle without them
on disk is decode-only."""
PRIORS = "priors.npy"
"""Optional: bigram counts of the code indices on the training split, [stages, codes + 1, codes] uint32."""
STAGE_PRIORS = "stage_priors.npz"
"""Optional: one index prior per stage count; array "n" holds the counts [n, codes + 1, codes] (uint32) under
which files with n stages code their indices."""
MAX_CONTEXT = 1 << 16
"""Largest context (encoder samples, decoder frames) a manifest may state: a chunk's margins stay bounded."""
ALIASES = {"ecg": "ecg-v4", "midi": "midi-v2"}
"""Short names users type; each maps to the shipped bundle it stands for."""


@dataclass
class Bundle:
    """A verified model bundle on disk; decode-only when its ENCODER_FILES are not there."""

    path: Path
    manifest: dict
    model_id: str
    codebooks: np.ndarray  # [stages, codes, latent] float32
    bits: np.ndarray | None  # code_bits.npy, None when decode-only: read it as code_bits
    priors: np.ndarray | None = None  # [stages, codes + 1, codes] int64 bigram counts (coding.entropy), if shipped
    stage_priors: dict[int, np.ndarray] | None = None  # n -> [n, codes + 1, codes] int64 counts, if shipped
    files: dict[str, Path] = field(default_factory=dict)  # where each verified file lies (here, or a bundle beside)

    @property
    def compatible_ids(self) -> frozenset[str]:
        """This bundle's id and the ids of earlier bundles whose files it decodes."""
        ids = self.manifest.get("compatible_ids", [])
        return frozenset([self.model_id, *(i for i in ids if isinstance(i, str))])

    @property
    def name(self) -> str:
        return str(self.manifest["name"])

    @property
    def decode_only(self) -> bool:
        """True when the files only compression reads are absent: the bundle decodes, and writes nothing."""
        return self.bits is None or ENCODER_FILES[0] not in self.files

    def file(self, name: str) -> Path:
        """Where the bundle's verified file `name` lies (in its folder, or stored once in a bundle beside it)."""
        return self.files.get(name, self.path / name)

    @property
    def encoder(self) -> Path:
        """The verified encoder graph; BundleError for a decode-only bundle."""
        if self.decode_only:
            raise self._decode_only_error()
        return self.files[ENCODER_FILES[0]]

    @property
    def code_bits(self) -> np.ndarray:
        """[stages, codes] float32: -log2 of each code's frequency on the training data (the encoder's search
        weighs it); BundleError for a decode-only bundle."""
        if self.bits is None or self.decode_only:
            raise self._decode_only_error()
        return self.bits

    def _decode_only_error(self) -> BundleError:
        absent = " or ".join(f for f in ENCODER_FILES if f not in self.files)
        if self.path.resolve().parent == shipped_root().resolve():
            current = ALIASES.get(str(self.manifest["kind"]), "the current model")
            return BundleError(f"{self.name} is decode-only in this release (its encoder is not shipped): it decodes "
                               f"the files it wrote; compress with {current}, the current model")
        return BundleError(f"{self.path}: decode-only bundle (no {absent}): it decodes the files it wrote; compress "
                           "with a bundle that has its encoder")


def shipped_root() -> Path:
    """Folder holding the bundles shipped as package data."""
    return Path(str(resources.files("vqcodec") / "models"))


def installed_models() -> list[str]:
    """Names of the shipped bundles."""
    root = shipped_root()
    return sorted(p.name for p in root.iterdir() if (p / MANIFEST).is_file()) if root.is_dir() else []


def file_sha256(path: Path) -> str:
    """The sha256 (hex) of a file's bytes: how a manifest names each file, and how a bundle's id is its manifest's."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _locate(model: str | Path) -> Path:
    """The bundle folder a path, name or alias stands for."""
    path = Path(model)
    if not (path / MANIFEST).is_file():
        name = ALIASES.get(str(model), str(model))
        path = shipped_root() / name
        if not (path / MANIFEST).is_file():
            raise ModelNotFoundError(
                f"{model}: no such model (installed: {', '.join(installed_models()) or 'none'})"
            )
    return path


def _elsewhere(path: Path, name: str, digest: str) -> Path | None:
    """File `name` of another bundle beside `path` whose manifest lists it with this sha256 (verified later by
    the caller, like any file): how byte-identical files are stored once."""
    try:
        others = sorted(p for p in path.parent.iterdir() if p != path and (p / name).is_file())
    except OSError:
        return None
    for other in others:
        try:
            files = json.loads((other / MANIFEST).read_bytes())["files"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if isinstance(files, dict) and files.get(name) == digest:
            return other / name
    return None


def _manifest(path: Path, kind: str, keys: tuple[str, ...], required: tuple[str, ...],
              may_lack: tuple[str, ...] = ()) -> tuple[dict, bytes, dict[str, Path]]:
    """The manifest of the bundle of `kind` at `path`, its raw bytes, and where each file it lists lies, once
    every one of them matches its sha256. A file in `may_lack` may be absent; every other listed file must be
    there (in the folder, or stored once in a bundle beside it)."""
    raw = (path / MANIFEST).read_bytes()
    try:
        manifest = json.loads(raw)
        if manifest["kind"] != kind:
            raise BundleError(f"{path}: a model for {manifest['kind']} files, not {kind}")
        files = manifest["files"]
        for key in keys:
            manifest[key]
        listed = [(str(f), str(digest)) for f, digest in files.items()]
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise BundleError(f"{path / MANIFEST}: malformed manifest ({e})") from e
    for f in required:
        if f not in files:
            raise BundleError(f"{path}: bundle is missing {f}")
    found: dict[str, Path] = {}
    for f, digest in listed:
        where = path / f if (path / f).is_file() else _elsewhere(path, f, digest)
        if where is None and f in may_lack:
            continue
        if where is None or file_sha256(where) != digest:
            raise BundleError(f"{where or path / f}: missing, or its sha256 does not match the manifest (file damaged "
                              "or edited)")
        found[f] = where
    return manifest, raw, found


def load_bundle(model: str | Path) -> Bundle:
    """Load an ECG bundle by path, name or alias; check every file's sha256 before anything parses it. A bundle
    without its ENCODER_FILES loads decode-only."""
    path = _locate(model)
    manifest, raw, files = _manifest(path, "ecg", ("name", "fs", "hop", "block_frames", "stages", "codes",
                                                   "default_quality"), REQUIRED_FILES, ENCODER_FILES)
    context = manifest.get("context", {})
    if not (isinstance(context, dict)
            and all(type(v) is int and 0 <= v <= MAX_CONTEXT for v in context.values())):
        raise BundleError(f"{path / MANIFEST}: malformed manifest (context {context!r})")
    stages, codes = manifest["stages"], manifest["codes"]
    codebooks = _array(files["codebooks.npy"], (stages, codes, manifest["latent"]))
    code_bits = _array(files["code_bits.npy"], (stages, codes)) if "code_bits.npy" in files else None
    priors = _counts(files[PRIORS], (stages, codes + 1, codes)) if PRIORS in files else None
    by_stages = _stage_counts(files[STAGE_PRIORS], stages, codes) if STAGE_PRIORS in files else None
    return Bundle(path, manifest, hashlib.sha256(raw).hexdigest(), codebooks, code_bits, priors, by_stages, files)


@dataclass
class NoteBundle:
    """A verified MIDI bundle: the quality ladder of note settings and each level's priors."""

    path: Path
    manifest: dict
    model_id: str
    files: dict[str, Path] = field(default_factory=dict)  # where each verified file lies (here, or a bundle beside)
    _priors: dict[int, dict[str, np.ndarray]] = field(default_factory=dict, repr=False)
    _prior: Prior | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return str(self.manifest["name"])

    @property
    def compatible_ids(self) -> frozenset[str]:
        """This bundle's id and the ids of earlier bundles with the same ladder and priors (whose files it decodes)."""
        ids = self.manifest.get("compatible_ids", [])
        return frozenset([self.model_id, *(i for i in ids if isinstance(i, str))])

    def level(self, quality: int) -> dict:
        """The manifest entry of one quality level (1-based)."""
        levels = self.manifest["levels"]
        if not 1 <= quality <= len(levels):
            raise ValueError(f"quality must be in 1..{len(levels)}, got {quality}")
        return levels[quality - 1]

    def priors(self, quality: int) -> dict[str, np.ndarray]:
        """Stream name -> (context, symbol) counts of one level, as int64 (read once per level: compress encodes
        and then decodes with them)."""
        if quality not in self._priors:
            name = self.level(quality)["priors"]
            path = self.files.get(name, self.path / name)
            with np.load(path, allow_pickle=False) as z:
                self._priors[quality] = {k: _counts_array(path, k, z[k]) for k in z.files}
        return self._priors[quality]

    @property
    def prior_quality(self) -> int | None:
        """The quality level the bundle's neural note prior is for (NOTE coding NC06), None without one."""
        spec = self.manifest.get("prior")
        return int(spec["quality"]) if isinstance(spec, dict) else None

    def prior(self, threads: int | None = 1) -> Prior | None:
        """The neural note prior (vqcodec.midi.prior.Prior, ONNX sessions; loaded once), None without one. threads:
        onnxruntime's for its small graphs (1: a step's batch is a few dozen rows)."""
        spec = self.manifest.get("prior")
        if not isinstance(spec, dict):
            return None
        if self._prior is None:
            from vqcodec.midi import prior as neural

            where = self.path / MANIFEST
            try:
                graphs = {g: self.files[spec["graphs"][g]] for g in neural.GRAPHS}
                shifts = {g: int(spec["shifts"][g]) for g in neural.GRAPHS}
                layout = neural.Layout(int(spec["velocity_levels"]), int(spec["duration_levels"]))
                exp_path = self.files[spec["exp"]]
                mix = {g: neural.Mix(int(share), int(window)) for g, (share, window) in spec.get("mix", {}).items()}
                if not all(g in neural.GRAPHS and 0 <= m.share <= neural.MIX_ONE and 1 <= m.window <= MAX_CONTEXT
                           for g, m in mix.items()):
                    raise ValueError(f"mix {spec['mix']}")
            except (KeyError, TypeError, ValueError) as e:
                raise BundleError(f"{where}: malformed manifest (prior: {e})") from e
            try:
                table = np.load(exp_path, allow_pickle=False)
            except ValueError as e:
                raise BundleError(f"{exp_path}: unreadable ({e})") from e
            if (table.ndim != 1 or table.dtype.kind not in "ui" or not len(table) or (table < 1).any()
                    or (np.diff(table.astype(np.int64)) > 0).any() or not all(0 <= v <= 31 for v in shifts.values())):
                raise BundleError(f"{exp_path}: the prior's exp table or shifts are not what a prior holds")
            self._prior = neural.Prior(graphs, shifts, table.astype(np.int64), layout, threads, mix)
        return self._prior


def load_note_bundle(model: str | Path) -> NoteBundle:
    """Load a MIDI bundle by path, name or alias; every file's sha256 is checked first."""
    path = _locate(model)
    manifest, raw, files = _manifest(path, "midi", ("name", "levels", "default_quality"), ())
    return NoteBundle(path, manifest, hashlib.sha256(raw).hexdigest(), files)


def kind_of(model: str | Path) -> str:
    """'ecg' or 'midi': the kind a bundle's manifest declares (not yet verified)."""
    try:
        return str(json.loads((_locate(model) / MANIFEST).read_bytes())["kind"])
    except (ValueError, KeyError, TypeError) as e:
        raise BundleError(f"{model}: malformed manifest ({e})") from e


def _array(path: Path, shape: tuple[int, ...]) -> np.ndarray:
    """A float32 array file of the expected shape, or BundleError."""
    try:
        a = np.load(path, allow_pickle=False)
    except ValueError as e:
        raise BundleError(f"{path}: unreadable ({e})") from e
    if a.shape != shape or not np.all(np.isfinite(a)):
        raise BundleError(f"{path}: shape {a.shape} or values disagree with the manifest")
    return a.astype(np.float32)


def _counts(path: Path, shape: tuple[int, ...]) -> np.ndarray:
    """A non-negative integer array file of the expected shape, as int64, or BundleError."""
    try:
        a = np.load(path, allow_pickle=False)
    except ValueError as e:
        raise BundleError(f"{path}: unreadable ({e})") from e
    if a.shape != shape:
        raise BundleError(f"{path}: shape {a.shape} disagrees with the manifest")
    return _counts_array(path, "", a)


def _stage_counts(path: Path, stages: int, codes: int) -> dict[int, np.ndarray]:
    """STAGE_PRIORS: arrays "1" .. "stages", array "n" of shape [n, codes + 1, codes], or BundleError."""
    want = [str(n) for n in range(1, stages + 1)]
    try:
        with np.load(path, allow_pickle=False) as z:
            if sorted(z.files) != sorted(want):
                raise BundleError(f"{path}: holds {sorted(z.files)}, not one prior for each of 1..{stages} stages")
            arrays = {int(k): z[k] for k in want}
    except (ValueError, OSError, zipfile.BadZipFile) as e:
        raise BundleError(f"{path}: unreadable ({e})") from e
    for n, a in arrays.items():
        if a.shape != (n, codes + 1, codes):
            raise BundleError(f"{path}:{n}: shape {a.shape} disagrees with the manifest")
    return {n: _counts_array(path, str(n), a) for n, a in arrays.items()}


def _counts_array(path: Path, key: str, a: np.ndarray) -> np.ndarray:
    """A non-negative integer array as int64, or BundleError naming the file (and the array in it)."""
    if a.dtype.kind not in "ui" or (a < 0).any():
        raise BundleError(f"{path}{':' + key if key else ''}: counts must be non-negative integers, got {a.dtype}")
    return a.astype(np.int64)


def find_by_id(model_id: str) -> Bundle | None:
    """The installed bundle whose id is model_id (or that lists it as compatible), if any."""
    bundles = [load_bundle(shipped_root() / name) for name in installed_models()
               if kind_of(shipped_root() / name) == "ecg"]
    return next((b for b in bundles if b.model_id == model_id), None) or next(
        (b for b in bundles if model_id in b.compatible_ids), None)

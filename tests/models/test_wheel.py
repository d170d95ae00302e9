"""The wheel holds the runtime alone (package `vqcodec` with its bundles, no `training`), within WHEEL_LIMIT, and
works on its own; pyproject.toml's [tool.setuptools] tables decide it, test_bundle.py checks the bundles it ships."""

from __future__ import annotations

import fnmatch
import hashlib
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

import vqcodec
from tests.helpers.bundles import OPTIONAL_ECG
from tests.helpers.signals import make_signal
from vqcodec.midi.tokens import DEFAULT_VQ_MODEL
from vqcodec.models.bundle import ALIASES, ENCODER_FILES

ROOT = Path(__file__).resolve().parents[2]
WHEEL_LIMIT = 16_600_000
"""Bytes: the current models whole and the earlier ones decode-only fit; every model ever shipped whole did not.
12 MB before midi-vq (0.7 MB, 0.65 MB zipped) and midi-v2's integer prior graphs (0.5 MB, 0.43 MB zipped) were
added; 12.7 MB before the optional ECG model ecg-v5 (4.6 MB, 3.7 MB zipped: 16.4 MB with it)."""


def test_every_shipped_bundle_file_is_package_data() -> None:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    globs = [str(Path(*pkg.split(".")[1:], g)) for pkg, patterns in package_data.items() for g in patterns]
    missing = [str(p.relative_to(ROOT / "vqcodec")) for p in sorted((ROOT / "vqcodec" / "models").rglob("*"))
               if p.is_file() and p.suffix != ".py" and "__pycache__" not in p.parts
               and not any(fnmatch.fnmatch(str(p.relative_to(ROOT / "vqcodec")), g) for g in globs)]
    assert missing == []


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel pip builds from a copy of this checkout (so no build/ folder lands in it), offline."""
    pytest.importorskip("setuptools", reason="building the wheel offline needs setuptools in this environment")
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build")
    for name in ("vqcodec", "training"):
        shutil.copytree(ROOT / name, src / name, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                           "-q", "-w", str(tmp / "dist"), str(src)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    (found,) = (tmp / "dist").glob("vqcodec-*.whl")
    return found


@pytest.mark.slow
def test_the_wheel_is_the_runtime_alone_within_the_limit(wheel: Path) -> None:
    assert wheel.stat().st_size <= WHEEL_LIMIT
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        digests = {n: hashlib.sha256(z.read(n)).hexdigest() for n in names if n.startswith("vqcodec/models/")}
    assert {n.split("/")[0] for n in names} == {"vqcodec", wheel.name.split("-py3")[0] + ".dist-info"}
    encoders = {n.split("/")[2] for n in names for f in ENCODER_FILES if n.startswith("vqcodec/models/")
                and n.endswith("/" + f)}
    assert encoders == {ALIASES["ecg"], *OPTIONAL_ECG, DEFAULT_VQ_MODEL}  # the earlier models ship decode-only
    data = [n for n in digests if not n.endswith((".py", ".md"))]
    assert len({digests[n] for n in data}) == len(data)  # byte-identical files stored once
    assert "vqcodec/py.typed" in names and "vqcodec/ecg/nearest.onnx" in names


UNPACKED_CHECK = """
import sys, numpy as np, vqcodec
assert vqcodec.__file__.startswith(sys.argv[1]), vqcodec.__file__
rec = sys.argv[2]
sig = vqcodec.decompress(rec + ".vqc")
np.save(rec + ".decoded.npy", sig.samples)
open(rec + ".again.vqc", "wb").write(vqcodec.compress(sig))
print(vqcodec.Codec.load("ecg-v3").bundle.decode_only)
"""


@pytest.mark.slow
def test_the_wheel_alone_decodes_and_writes_the_same_bytes(wheel: Path, tmp_path: Path) -> None:
    """Unpacked outside the checkout (a pure-Python wheel installs by unpacking), the wheel's vqcodec decodes what
    this checkout wrote to the same samples, writes the same bytes, and loads a decode-only bundle."""
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as z:
        z.extractall(site)
    sig = make_signal(360 * 20, channels=2, seed=4)
    data = vqcodec.compress(sig)
    (tmp_path / "rec.vqc").write_bytes(data)
    proc = subprocess.run([sys.executable, "-c", UNPACKED_CHECK, str(site), str(tmp_path / "rec")],
                          capture_output=True, text=True, cwd=tmp_path, timeout=300,
                          env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["True"]
    np.testing.assert_array_equal(np.load(tmp_path / "rec.decoded.npy"), vqcodec.decompress(data).samples)
    assert (tmp_path / "rec.again.vqc").read_bytes() == vqcodec.compress(vqcodec.decompress(data))

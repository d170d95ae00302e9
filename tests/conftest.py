"""Fixtures for every test (real data, the committed tiny model, the in-process CLI); helpers are in tests/helpers/."""

from __future__ import annotations

import os
import shutil
import sys
import warnings
from pathlib import Path

import pytest

from tests.helpers.cli import CliResult, Runner
from tests.helpers.tiny import TINY_BUNDLE
from vqcodec.cli import main as cli_main
from vqcodec.ecg.codec import Codec

DATA_ENV = "VQCODEC_DATA"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that reads the real data (uses `data_dir`) is `slow`: `-m "not slow"` leaves it out."""
    for item in items:
        if "data_dir" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """Root of the shared data (e.g. /work/shared/data); skips the test when VQCODEC_DATA is unset or names a
    folder that is not there (.ci/run defaults it to ../shared/data, absent in a clone made elsewhere)."""
    root = os.environ.get(DATA_ENV)
    if not root:
        pytest.skip(f"{DATA_ENV} is not set; set it to the shared data root to run real-data tests")
    if not Path(root).is_dir():
        pytest.skip(f"{DATA_ENV}={root} is not a folder (resolved from {Path.cwd()}); real-data tests skipped")
    return Path(root)


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of the committed tiny ECG bundle (tests/data/tiny-ecg/, written by
    tests/helpers/make_tiny_bundle.py): a real trained and exported model, loaded without torch."""
    return Path(shutil.copytree(TINY_BUNDLE, tmp_path_factory.mktemp("tiny") / "bundle"))


@pytest.fixture(scope="module")
def codec(tiny_bundle: Path) -> Codec:
    """The tiny model loaded once per test module, on one thread (deterministic and light on CPU)."""
    return Codec.load(tiny_bundle, threads=1)


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Runner:
    """Run `vqcodec ARGS` in-process through the real entry point (main), returning a CliResult."""

    def run(*args: object) -> CliResult:
        monkeypatch.setattr(sys, "argv", ["vqcodec", *map(str, args)])
        monkeypatch.setattr(warnings, "formatwarning", warnings.formatwarning)  # main() replaces it; restore after
        capsys.readouterr()
        code = 0
        try:
            cli_main()
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else int(e.code is not None)
        out = capsys.readouterr()
        return CliResult(code, out.out, out.err)

    return run

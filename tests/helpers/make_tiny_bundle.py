"""Write the committed tiny ECG bundle tests/data/tiny-ecg/ (needs torch), trained by tiny.py's train_tiny.

    python tests/helpers/make_tiny_bundle.py           # refuses when tests/data/tiny-ecg/ already exists
    python tests/helpers/make_tiny_bundle.py --force   # replace it (then re-run the tests: ids and bytes change)

The bundle is TINY_CONFIG trained for a few steps on synthetic ECG and exported through the real
train -> export path, plus an index prior counted on synthetic ECG by training/priors.py (as the shipped
model has). The runtime tests use it through the `tiny_bundle` fixture and so need no torch.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.helpers.signals import make_signal  # noqa: E402
from tests.helpers.tiny import TINY_BUNDLE, train_tiny  # noqa: E402
from training.priors import add_priors, count_bigrams  # noqa: E402
from vqcodec.ecg.codec import Codec  # noqa: E402

COMMAND = "tests/helpers/make_tiny_bundle.py"


def main(argv: list[str]) -> None:
    if TINY_BUNDLE.exists() and "--force" not in argv:
        sys.exit(f"{TINY_BUNDLE}: already there; pass --force to replace it")
    with tempfile.TemporaryDirectory() as tmp:
        bundle = train_tiny(Path(tmp), COMMAND)
        signals = [make_signal(6000, channels=2, seed=s) for s in (11, 12)]
        add_priors(bundle, count_bigrams(Codec.load(bundle, threads=1), signals), COMMAND)
        shutil.rmtree(TINY_BUNDLE, ignore_errors=True)
        shutil.copytree(bundle, TINY_BUNDLE)
    size = sum(p.stat().st_size for p in TINY_BUNDLE.iterdir())
    print(f"{TINY_BUNDLE}: {len(list(TINY_BUNDLE.iterdir()))} files, {size} bytes")


if __name__ == "__main__":
    main(sys.argv[1:])

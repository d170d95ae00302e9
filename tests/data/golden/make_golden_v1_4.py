"""Write the format-1.4 golden files (residual layer with adaptive contexts, section RESD). Run ONCE; never re-run.

    python tests/data/golden/make_golden_v1_4.py       # refuses when v1.4/ already holds files

The same files as make_golden_v1_1.py (same signal, frozen v1 model), written by the 1.4 coder, and at
--max-error 5 for the bounded one, since from format 1.4 the model layer is used only from E = 4:
  ecg_lossless.vqc            2 channels, 1000 samples, NaN runs; --lossless (no model layer, n_stages 0)
  ecg_bounded.vqc             the same signal, --max-error 5 (model layer + residual layer)
  <name>.expected.npy         the decoded ADC samples [T, C] int64 (invalid samples as 0): exact, not a tolerance
  expected.json               per file: max error, shape, the input's sha256
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

from make_golden_v1_1 import write  # noqa: E402

OUT = HERE / "v1.4"
MAX_ERRORS = {"ecg_lossless": 0, "ecg_bounded": 5}


def main() -> None:
    write(OUT, MAX_ERRORS)


if __name__ == "__main__":
    main()

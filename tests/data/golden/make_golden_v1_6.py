"""Write the format-1.6 golden files (MIDI: NOTE coding NC04, escapes coded by bit length). Run ONCE; never re-run.

    python tests/data/golden/make_golden_v1_6.py       # refuses when v1.6/ already holds files

The same performance and levels as make_golden_v1_3.py (its 40 s rest and long pedal holds take the escape),
written by the 1.6 coder with the shipped midi-v1 (NC04, NC03 and NC02 tables), whose copy goes into v1.6/model/:
  piano_q<level>.vqc          a made-up 150-note performance (chords, a 40 s rest, sustain and soft pedal)
  expected.json               per file: the decoded note table and pedal events (exact), and the model id
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

from make_golden_v1_3 import write  # noqa: E402

OUT = HERE / "v1.6"


def main() -> None:
    write(OUT)


if __name__ == "__main__":
    main()

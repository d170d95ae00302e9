"""The sha256 of what `vqcodec compress` writes for a matrix of real inputs and settings, for checking that a
change which should not alter the bytes (a refactor) does not.

Run it on two checkouts and compare the two JSON files:

    PYTHONPATH=/path/to/old python benchmarks/identical_outputs.py --data DATA -o old.json
    python benchmarks/identical_outputs.py --data DATA -o new.json
    python benchmarks/identical_outputs.py --compare old.json new.json

Each output is written by the real CLI (one process per file, as a user runs it), then hashed; the decoded
record's samples are hashed too, so that a change to the decoder shows even where the bytes are equal.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ECG_SETTINGS = {"default": [], "q1": ["-q", "1"], "q21": ["-q", "21"], "e2": ["-e", "2"], "e5": ["-e", "5"],
                "lossless": ["--lossless"], "maxprdn5": ["-p", "5"]}
MIDI_SETTINGS = {"default": [], "q1": ["-q", "1"], "q7": ["-q", "7"]}


def _cli(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "vqcodec", *args], check=True, capture_output=True)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run(data: Path, out: Path, records: list[str], ludb: list[str], pieces: list[str]) -> dict:
    results: dict[str, dict[str, str]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        inputs = [(f"mitdb/{r}", data / "ecg/mitdb" / f"{r}.hea", ECG_SETTINGS) for r in records]
        inputs += [(f"ludb/{r}", data / "ecg/ludb/data" / f"{r}.hea", {"default": [], "e2": ["-e", "2"]})
                   for r in ludb]
        inputs += [(f"asap/{p}", data / "midi/asap" / p, MIDI_SETTINGS) for p in pieces]
        for name, path, settings in inputs:
            for setting, flags in settings.items():
                vqc = t / "x.vqc"
                _cli("compress", str(path), "-o", str(vqc), "-f", *flags)
                entry = {"vqc": _sha(vqc)}
                if path.suffix == ".mid":
                    _cli("decompress", str(vqc), "-o", str(t / "y.mid"), "-f")
                    entry["decoded"] = _sha(t / "y.mid")
                else:
                    _cli("decompress", str(vqc), "-o", str(t / "y"), "-f")
                    entry["decoded"] = _sha(t / "y.dat")
                results[f"{name} {setting}"] = entry
                print(name, setting, entry["vqc"][:12], flush=True)
    out.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    return results


def compare(a: Path, b: Path) -> int:
    old, new = json.loads(a.read_text()), json.loads(b.read_text())
    differ = [k for k in sorted(old) if old[k] != new.get(k)]
    missing = sorted(set(old) ^ set(new))
    print(f"{len(old)} outputs compared: {len(old) - len(differ)} identical, {len(differ)} differ; "
          f"{len(missing)} in one file only")
    for k in differ:
        print("  differs:", k)
    return 1 if differ or missing else 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", type=Path, help="the data root (ecg/mitdb, ecg/ludb, midi/asap below it)")
    p.add_argument("-o", "--output", type=Path, default=Path("identical-outputs.json"))
    p.add_argument("--records", nargs="*", default=None, help="mitdb records (default: the test split)")
    p.add_argument("--compare", nargs=2, type=Path, metavar=("OLD", "NEW"))
    a = p.parse_args()
    if a.compare:
        return compare(*a.compare)
    if a.data is None:
        p.error("--data is required unless --compare")
    records = a.records or json.loads((a.data / "ecg/mitdb/SPLITS.json").read_text())["test"]
    asap = json.loads((a.data / "midi/asap/SPLITS.json").read_text())["test"] if (
        a.data / "midi/asap/SPLITS.json").exists() else []
    run(a.data, a.output, records, ["1", "2"], asap[:3])
    return 0


if __name__ == "__main__":
    sys.exit(main())

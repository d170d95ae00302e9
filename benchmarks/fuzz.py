"""A mutation campaign through the public API: real .vqc files of every kind and setting, mutated at random and
structurally (splices of two files of the same record, transplanted, swapped and reordered sections), each
decoded by `vqcodec.decompress`. Every outcome is one of

  refused   a VqcError (the damage was noticed)
  same      decoded to exactly what the undamaged file decodes to (the damage did not matter)
  silent    decoded to something else without a word: the failure this campaign exists to find
  crashed   any other exception

    python benchmarks/fuzz.py --data DATA -n 1000000 --jobs 2 --json benchmarks/results/fuzz.json

The goal is 0 silent and 0 crashed. The files are made fresh from the data with the installed vqcodec (60 s of
mitdb 103 at the default level, the top level, --max-error 2 and --lossless; LUDB record 1, 12 leads at 500 Hz; an
EDF file of two ECG leads, respiration and blood pressure at their own rates, with annotations, at the default level
and lossless; 60 s of mitdb 100 with its .atr, and lossless with its .hea; an asap piece at the default level and
-q 7), so a run measures the release it runs on. "Same" means the same signal (aux signals included) or notes, and
for an ECG file the same record files kept beside it (annotation files, WFDB header, EDF header and annotations).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import tempfile
import time
import warnings
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.helpers import mutate  # noqa: E402

OUTCOMES = ("refused", "same", "silent", "crashed")


def make_corpus(data: Path) -> dict[str, dict[str, bytes]]:
    """{record: {setting: .vqc bytes}}: the files the campaign mutates, grouped by the record they hold."""
    import vqcodec
    from vqcodec.ecg.file import with_record_files
    from vqcodec.ecg.signal import Signal

    ecg = vqcodec.Codec.load("ecg", threads=1)
    rec = vqcodec.read(data / "ecg/mitdb/103.hea")
    n = int(60 * rec.fs)
    rec = Signal(rec.samples[:n], rec.fs, rec.channels, rec.record_name, rec.comments, rec.base_time, rec.base_date)
    top = max(ecg.qualities)
    corpus = {"mitdb 103 (60 s)": {
        "default": ecg.compress(rec)[0], f"-q {top}": ecg.compress(rec, top)[0],
        "-e 2": ecg.compress(rec, max_error=2)[0], "lossless": ecg.compress(rec, max_error=0)[0]}}
    ludb = vqcodec.read(data / "ecg/ludb/data/1.hea")
    corpus["ludb 1 (12 leads, 500 Hz)"] = {"default": ecg.compress(ludb)[0], "-e 2": ecg.compress(ludb, max_error=2)[0]}
    with tempfile.TemporaryDirectory() as tmp:  # the sections of formats 1.9-1.11: aNNO, wHEA, AUXS, eDFH, eDFA, RESB
        from tests.helpers.edf import make_edf

        edf = make_edf(Path(tmp) / "mixed.edf", data, seconds=30)
        corpus["EDF: 2 ECG leads + respiration 25 Hz + BP 120 Hz, annotations (30 s)"] = {
            "default": vqcodec.compress_edf(edf, ecg)[0], "lossless": vqcodec.compress_edf(edf, ecg, max_error=0)[0]}
    with_files = vqcodec.read(data / "ecg/mitdb/100.hea")
    with_files = Signal(with_files.samples[:n], with_files.fs, with_files.channels, with_files.record_name,
                        with_files.comments, with_files.base_time, with_files.base_date)
    annotations = {"atr": (data / "ecg/mitdb/100.atr").read_bytes()}
    corpus["mitdb 100 (60 s) with its .atr and .hea"] = {
        "default": with_record_files(ecg.compress(with_files)[0], annotations, None),
        "lossless": with_record_files(ecg.compress(with_files, max_error=0)[0], annotations,
                                      (data / "ecg/mitdb/100.hea").read_bytes())}
    midi = vqcodec.NoteCodec.load("midi")
    piece = vqcodec.read(data / "midi/asap/Bach__Fugue__bwv_846__Shi05M.mid")
    corpus["asap bwv846"] = {"default": midi.compress(piece)[0], "-q 7": midi.compress(piece, 7)[0]}
    return corpus


_STATE: dict = {}


def _init(corpus: dict[str, dict[str, bytes]]) -> None:
    import vqcodec

    warnings.simplefilter("ignore")
    _STATE["codecs"] = {"ecg": vqcodec.Codec.load("ecg", threads=1), "midi": vqcodec.NoteCodec.load("midi")}
    _STATE["corpus"] = corpus
    _STATE["reference"] = {(r, s): _decode(blob) for r, files in corpus.items() for s, blob in files.items()}


def _decode(blob: bytes) -> object:
    """What a decode gives back: the signal or notes, and for an ECG file the record's own bytes it keeps (annotation
    files, WFDB header, EDF header and annotation signals), which a mutation must not change silently either."""
    from vqcodec.api import decode
    from vqcodec.container import format as vqc
    from vqcodec.container.format import _peek_kind

    kind = {1: "ecg", 2: "midi"}.get(_peek_kind(blob) or 0, "ecg")
    f = vqc.loads(blob)  # what vqcodec.decompress does: parse, then decode the parsed file
    decoded = decode(f, _STATE["codecs"][kind])
    if kind != "ecg":
        return decoded
    return decoded, (f.annotations, f.wfdb_header, f.edf_header, f.edf_annotations)


def _same(a: object, b: object) -> bool:
    if isinstance(a, tuple) or isinstance(b, tuple):  # an ECG file: (signal, the record's own bytes)
        return isinstance(a, tuple) and isinstance(b, tuple) and _same(a[0], b[0]) and a[1] == b[1]
    if type(a) is not type(b):
        return False
    if hasattr(a, "samples"):
        aux_a, aux_b = getattr(a, "aux", []), getattr(b, "aux", [])
        return a.samples.shape == b.samples.shape and bool(np.array_equal(a.samples, b.samples, equal_nan=True)) \
            and len(aux_a) == len(aux_b) and all(
                (x.position, x.fs) == (y.position, y.fs) and x.samples.shape == y.samples.shape
                and bool(np.array_equal(x.samples, y.samples, equal_nan=True)) for x, y in zip(aux_a, aux_b))
    return all(np.array_equal(getattr(a, f), getattr(b, f)) for f in ("pitch", "onset", "offset", "velocity")) \
        and a.pedals.keys() == b.pedals.keys() and all(np.array_equal(a.pedals[c].time, b.pedals[c].time)
                                                       and np.array_equal(a.pedals[c].value, b.pedals[c].value)
                                                       for c in a.pedals)


def _run(args: tuple[int, int]) -> tuple[Counter, list[str]]:
    from vqcodec.errors import VqcError

    seed, count = args
    rng = random.Random(seed)
    counts: Counter = Counter()
    examples: list[str] = []
    corpus = _STATE["corpus"]
    records = sorted(corpus)
    kinds = sorted(mutate.ALL)
    for _ in range(count):
        record = rng.choice(records)
        setting = rng.choice(sorted(corpus[record]))
        blob = corpus[record][setting]
        others = [b for s, b in corpus[record].items() if s != setting] or [blob]
        kind = rng.choice(kinds)
        try:
            mutated = mutate.ALL[kind](rng, blob, others)
        except Exception:  # a structured mutation that does not apply to this file (too few sections)
            mutated = mutate.bit_flip(rng, blob, others)
        # a splice may give another whole file of the record (the two agree up to the cut): judge it as that one
        setting = next((s for s, b in corpus[record].items() if b == mutated), setting)
        try:
            out = _decode(mutated)
        except VqcError:
            outcome = "refused"
        except Exception as e:  # noqa: BLE001 - the point is to count these
            outcome = "crashed"
            if len(examples) < 20:
                examples.append(f"crashed: {kind} of {record} {setting}: {type(e).__name__}: {e}")
        else:
            outcome = "same" if _same(out, _STATE["reference"][(record, setting)]) else "silent"
            if outcome == "silent" and len(examples) < 20:
                examples.append(f"silent: {kind} of {record} {setting} (seed {seed})")
        counts[(kind, outcome)] += 1
    return counts, examples


def campaign(corpus: dict[str, dict[str, bytes]], n: int, jobs: int, seed: int) -> tuple[Counter, list[str], float]:
    chunk = 2000
    tasks = [(seed * 1_000_003 + i, min(chunk, n - i * chunk)) for i in range(math.ceil(n / chunk))]
    total: Counter = Counter()
    examples: list[str] = []
    start = time.perf_counter()
    with ProcessPoolExecutor(jobs, initializer=_init, initargs=(corpus,)) as pool:
        for done, (counts, ex) in enumerate(pool.map(_run, tasks), 1):
            total.update(counts)
            examples += ex[: max(0, 20 - len(examples))]
            if done % 25 == 0 or done == len(tasks):
                print(f"{sum(total.values()):,} mutations, {time.perf_counter() - start:.0f} s: "
                      + ", ".join(f"{o} {sum(v for (k, oo), v in total.items() if oo == o):,}" for o in OUTCOMES),
                      file=sys.stderr, flush=True)
    return total, examples, time.perf_counter() - start


def markdown(total: Counter, examples: list[str], seconds: float, command: str, corpus: dict) -> str:
    kinds = sorted({k for k, _ in total})
    rows = ["| mutation | " + " | ".join(OUTCOMES) + " |", "|---" * (len(OUTCOMES) + 1) + "|"]
    for k in kinds:
        rows.append(f"| {k} | " + " | ".join(f"{total[(k, o)]:,}" for o in OUTCOMES) + " |")
    rows.append("| **all** | " + " | ".join(f"**{sum(total[(k, o)] for k in kinds):,}**" for o in OUTCOMES) + " |")
    files = "; ".join(f"{r}: {', '.join(s)}" for r, s in corpus.items())
    return "\n".join([f"`{command}`", "", f"{sum(total.values()):,} mutations in {seconds:.0f} s. Files: {files}.",
                      "", *rows, "", *(f"- {e}" for e in examples)]) + "\n"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", type=Path, required=True, help="data root (ecg/mitdb, ecg/ludb, midi/asap below it)")
    p.add_argument("-n", type=int, default=1_000_000)
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--markdown", type=Path, default=None)
    a = p.parse_args()
    corpus = make_corpus(a.data)
    total, examples, seconds = campaign(corpus, a.n, a.jobs, a.seed)
    command = "python benchmarks/fuzz.py " + " ".join(sys.argv[1:])
    print(markdown(total, examples, seconds, command, corpus))
    if a.json:
        a.json.write_text(json.dumps({"command": command, "seconds": seconds, "examples": examples,
                                      "counts": [{"mutation": k, "outcome": o, "n": v}
                                                 for (k, o), v in sorted(total.items())]}, indent=1) + "\n")
    if a.markdown:
        a.markdown.write_text(markdown(total, examples, seconds, command, corpus))
    return 1 if any(total[(k, o)] for k, o in total if o in ("silent", "crashed")) else 0


if __name__ == "__main__":
    sys.exit(main())

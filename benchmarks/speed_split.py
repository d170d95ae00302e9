"""Where a CLI run's time goes: one `vqcodec` command run in this process, with the time of each ONNX graph's runs
(encoder, decoder, the search's nearest-code graph) and the whole, so a cheaper graph's share can be seen apart
from start-up, imports and I/O (`speed.py` times whole processes instead).

    python benchmarks/speed_split.py decompress 103.vqc -o /tmp/103 --force --model ecg-v4

The whole is counted from the command's start, after this script's own imports (onnxruntime, runpy): the
interpreter's start-up is not in it. One command per process: repeated in one process, the decoder took 1.40-1.49 s
where fresh processes took 0.86-0.89 s, so repeat by running the script again (and interleave the models).
"""

from __future__ import annotations

import argparse
import collections
import runpy
import sys
import time
from pathlib import Path

import onnxruntime as ort


def run_split(argv: list[str]) -> tuple[dict[str, tuple[float, int]], float]:
    """Run `vqcodec argv` here; returns {graph file name: (seconds in its runs, runs)} and the whole's seconds."""
    spent: collections.Counter[str] = collections.Counter()
    calls: collections.Counter[str] = collections.Counter()
    plain = ort.InferenceSession.run

    def timed(self: ort.InferenceSession, *args: object, **kwargs: object) -> object:
        t = time.perf_counter()
        try:
            return plain(self, *args, **kwargs)
        finally:
            name = Path(self._model_path).name
            spent[name] += time.perf_counter() - t
            calls[name] += 1

    ort.InferenceSession.run = timed  # type: ignore[method-assign]
    saved = sys.argv
    sys.argv = ["vqcodec", *argv]
    start = time.perf_counter()
    try:
        runpy.run_module("vqcodec", run_name="__main__")
    except SystemExit as e:
        if e.code:
            raise
    finally:
        whole = time.perf_counter() - start
        sys.argv = saved
        ort.InferenceSession.run = plain  # type: ignore[method-assign]
    return {k: (v, calls[k]) for k, v in spent.items()}, whole


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("command", nargs=argparse.REMAINDER, help="the vqcodec command and its arguments")
    args = ap.parse_args()
    graphs, whole = run_split(args.command)
    parts = ", ".join(f"{k} {v:.3f} s in {n} runs" for k, (v, n) in sorted(graphs.items()))
    print(f"whole {whole:.3f} s; {parts}", file=sys.stderr)


if __name__ == "__main__":
    main()

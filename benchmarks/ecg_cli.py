"""Issue-2 measurement: every mitdb `test` record through the CLI at every quality level.

    python benchmarks/ecg_cli.py --data ../shared/data --out benchmarks/results/ecg-cli.md

Runs `vqcodec compress` and `vqcodec decompress` as a user would (whole records, both leads), reads the
original and the decoded WFDB records back, and reports file bytes (every header counted), CR against
11 bits, bits/sample, PRD, PRDN, SNR and max error per record, plus the metadata round-trip checks.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

import vqcodec
from vqcodec.metrics import compare


def run(*args: str) -> None:
    """Run the vqcodec CLI; raise with its stderr on failure."""
    proc = subprocess.run([sys.executable, "-m", "vqcodec", *args], capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"vqcodec {' '.join(args)} failed: {proc.stderr}")


def metadata_matches(a: vqcodec.Signal, b: vqcodec.Signal) -> bool:
    """Same length, channel names, units, gain, baseline and fmt."""
    key = lambda s: [(c.name, c.units, c.gain, c.baseline, c.fmt) for c in s.channels]  # noqa: E731
    return a.samples.shape == b.samples.shape and key(a) == key(b)


def preamble(title: str, machine_note: str = "") -> list[str]:
    """Title, the exact command, date and machine: the first lines of every report."""
    return [
        f"# {title}", "",
        f"Command: `python {' '.join(sys.argv)}`  ",
        f"Date: {datetime.date.today()}; machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}{machine_note}", "",
    ]


def emit(lines: list[str], results: list[dict], out: Path | None, json_path: Path | None) -> None:
    """Print the Markdown report and write it (and the per-record JSON) where asked."""
    text = "\n".join(lines) + "\n"
    print(text)
    if out:
        out.write_text(text)
    if json_path:
        json_path.write_text(json.dumps(results, indent=1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=os.environ.get("VQCODEC_DATA", "../shared/data"))
    ap.add_argument("--split", default="test")
    ap.add_argument("--model", default="ecg")
    ap.add_argument("--qualities", default=None, help="comma list (default: every level of the model)")
    ap.add_argument("--out", type=Path, default=None, help="write the Markdown table here")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()

    mitdb = Path(args.data) / "ecg" / "mitdb"
    records = [str(r) for r in json.loads((mitdb / "SPLITS.json").read_text())[args.split]]
    codec = vqcodec.Codec.load(args.model)
    qualities = ([int(q) for q in args.qualities.split(",")] if args.qualities
                 else codec.qualities)
    rows, results = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for q in qualities:
            per = []
            for r in records:
                vqc, out = Path(tmp) / f"{r}-q{q}.vqc", Path(tmp) / f"{r}-q{q}"
                run("compress", str(mitdb / f"{r}.hea"), "-o", str(vqc), "-q", str(q), "--model", args.model)
                run("decompress", str(vqc), "-o", str(out), "--model", args.model)
                orig, dec = vqcodec.read(mitdb / f"{r}.hea"), vqcodec.read(f"{out}.hea")
                rep = compare(orig, dec, vqc.stat().st_size)
                per.append({"record": r, "quality": q, "bytes": rep.n_bytes, "cr": rep.cr,
                            "bits_per_sample": rep.bits_per_sample, "prd": rep.prd, "prdn": rep.prdn,
                            "snr": rep.snr, "max_err": rep.max_err, "metadata_ok": metadata_matches(orig, dec)})
                print(f"q={q} {r}: CR {rep.cr:.2f} PRDN {rep.prdn:.2f} %", file=sys.stderr)
            results += per
            mean = {k: float(np.mean([p[k] for p in per])) for k in ("cr", "bits_per_sample", "prd", "prdn", "snr")}
            rows.append(f"| {q}{' (default)' if q == codec.default_quality else ''} | {mean['cr']:.2f} | "
                        f"{mean['bits_per_sample']:.3f} | {mean['prdn']:.2f} | {max(p['prdn'] for p in per):.2f} | "
                        f"{mean['prd']:.2f} | {mean['snr']:.1f} | {max(p['max_err'] for p in per):.3f} | "
                        f"{all(p['metadata_ok'] for p in per)} |")
    lines = [
        *preamble(f"vqcodec through the CLI on the mitdb `{args.split}` split",
                  f"; model {codec.name} sha256 {codec.model_id[:16]}…"),
        f"Records: {' '.join(records)} (whole records, both leads). CR against 11 bits; file bytes include every "
        "header. PRDN/PRD/SNR are means over the records of the per-record mean over leads; max error in mV.", "",
        "| quality | mean CR | bits/sample | mean PRDN % | worst record PRDN % | PRD % | SNR dB | max error mV | "
        "length/names/units/gain/baseline/fmt kept |",
        "|---|---|---|---|---|---|---|---|---|",
        *rows, "",
        "Per record:", "",
        "| quality | record | bytes | CR | PRDN % | max error mV |", "|---|---|---|---|---|---|",
        *[f"| {p['quality']} | {p['record']} | {p['bytes']} | {p['cr']:.2f} | {p['prdn']:.2f} | {p['max_err']:.3f} |"
          for p in results],
    ]
    emit(lines, results, args.out, args.json)


if __name__ == "__main__":
    main()

"""Issue "the learned ECG model earns its place", item 5: `--max-prdn P` kept on every lead.

    python benchmarks/max_prdn_per_lead.py measure --label after --json /tmp/after.json
    python benchmarks/max_prdn_per_lead.py report --before /tmp/before.json --after /tmp/after.json \
        --out benchmarks/results/max-prdn-per-lead.md

`measure` runs `Codec.load("ecg").compress_to_prdn` on LUDB records 1-10 (whole, 12 leads, 500 Hz) at P = 5 and 9
and on the MIT-BIH `test` split (whole records, 2 leads) at P = 5, decodes every file with `Codec.decompress` and
measures each lead's PRDN on what came back (vqcodec.compare). It records the setting chosen, the bytes, CR against
the ADC resolution, the mean and the worst lead's PRDN, the trials (real compress-and-decode runs of the record) and
the wall time. `report` writes the before/after Markdown from two such JSON files. Run `measure` with the code to
measure importable (for "before": PYTHONPATH naming a copy of the package as it was).
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

import vqcodec
from vqcodec.metrics import Report, compare

NOTES = [
    "- *Before* ran the code as it was before this change: `PYTHONPATH` named a copy of `vqcodec/` taken first "
    "(the package path above), with the same command and `--label before`.",
    "- Where the ladder's top level misses P on some lead, or is the answer, the residual layer's max error E is "
    "searched (`vqcodec.ecg.ratecontrol.largest_bound`): the largest E whose worst lead meets P, around the model "
    "from E = 4; E = 3 is tried as well when the answer is above it. Below the top the search does not run: on the 4 "
    "MIT-BIH `val` records, whole, a max error beat the ladder's answer below its top in 4 of 40 (record, P) cases, "
    "by at most 11 %, for 2-6 more trials on every record. The constants (`PRDN_BOUND_SLOPE`, the first guess) were "
    "chosen on those `val` curves; nothing was tuned on `test` or LUDB.",
    "- MIT-BIH 210 at 5 % needs level 19 (its V1 lead; before, level 15 left V1 at 6.31 %). Checked once afterwards "
    "by hand (`Codec._bounded_to_prdn` on the record, not part of this script), not to tune: the residual layer gives "
    "max error 1 at CR 5.20 there (level 19: 5.19) and max error 2 misses (5.29 %), so searching it from below the "
    "top would not have helped this record.",
    "- The issue asks for a mean CR of 22 or more on MIT-BIH `test` at 5 % (before: 14.94 pooled, holding the mean "
    "over leads). Held on every lead, 5 % costs more, not less, and none of the settings `--max-prdn` chooses from "
    "gets there with this model: the levels that reach CR 22 on average (1-6) leave the worst lead of every `test` "
    "record above 5 % (level 6: 6.1-9.4 % mean PRDN per record, `ecg-max-prdn.md`), and a max error adds the "
    "residual layer's bytes to the default level's. The target is not met.",
    "- Seconds are wall time on 2 cores shared with other jobs (load average 5-7 during both runs): compare trials, "
    "not seconds.",
]
"""Hand-written findings appended to the page (their figures are from the runs in the tables, or as stated)."""

LUDB_RECORDS = [str(i) for i in range(1, 11)]
LUDB_TARGETS = (5.0, 9.0)
MITDB_TARGETS = (5.0,)


def worst(report: Report) -> tuple[float, str]:
    """The largest defined per-lead PRDN and its lead's name (NaN, "" when none is defined)."""
    leads = [(c.prdn, c.name) for c in report.channels if not math.isnan(c.prdn)]
    return max(leads) if leads else (math.nan, "")


def measure_one(codec: vqcodec.Codec, path: Path, target: float) -> dict:
    signal = vqcodec.read(path)
    trials = 0
    inner = codec._compress

    def counted(*args, **kwargs):  # every trial is one call of Codec._compress
        nonlocal trials
        trials += 1
        return inner(*args, **kwargs)

    codec._compress = counted  # type: ignore[method-assign]
    t0 = time.perf_counter()
    try:
        data, report, setting = codec.compress_to_prdn(signal, target)
    finally:
        del codec._compress
    seconds = time.perf_counter() - t0
    decoded = compare(signal, codec.decompress(data), len(data))
    prdn, lead = worst(decoded)
    return {"record": signal.record_name, "target": target, "setting": setting, "bytes": len(data),
            "cr": decoded.cr, "bits_per_sample": decoded.bits_per_sample, "adc_bits": decoded.adc_bits,
            "mean_prdn": decoded.prdn, "worst_prdn": prdn, "worst_lead": lead,
            "leads": {c.name: c.prdn for c in decoded.channels}, "trials": trials, "seconds": seconds}


def measure(args: argparse.Namespace) -> None:
    data = Path(args.data) / "ecg"
    codec = vqcodec.Codec.load(args.model)
    mitdb = [str(r) for r in json.loads((data / "mitdb" / "SPLITS.json").read_text())[args.split]]
    jobs = [("ludb", data / "ludb" / "data" / f"{r}.hea", p) for p in LUDB_TARGETS for r in LUDB_RECORDS]
    jobs += [(f"mitdb {args.split}", data / "mitdb" / f"{r}.hea", p) for p in MITDB_TARGETS for r in mitdb]
    rows = []
    for dataset, path, target in jobs:
        row = {"dataset": dataset, **measure_one(codec, path, target)}
        print(f"{dataset} {row['record']} P={target:g}: {row['setting']}, CR {row['cr']:.2f}, worst "
              f"{row['worst_lead']} {row['worst_prdn']:.2f} %, mean {row['mean_prdn']:.2f} %, "
              f"{row['trials']} trials, {row['seconds']:.1f} s", file=sys.stderr, flush=True)
        rows.append(row)
    meta = {"label": args.label, "command": f"python {' '.join(sys.argv)}", "vqcodec": vqcodec.__file__,
            "model": codec.name, "model_id": codec.model_id, "date": datetime.datetime.now(datetime.timezone.utc)
            .strftime("%Y-%m-%d %H:%M UTC"), "machine": f"{platform.machine()}, {os.cpu_count()} logical CPUs, "
            f"Python {platform.python_version()}"}
    Path(args.json).write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))


def _groups(rows: list[dict]) -> dict[tuple[str, float], list[dict]]:
    out: dict[tuple[str, float], list[dict]] = {}
    for r in rows:
        out.setdefault((r["dataset"], r["target"]), []).append(r)
    return out


def _summary(rows: list[dict]) -> str:
    met = sum(r["worst_prdn"] <= r["target"] or math.isnan(r["worst_prdn"]) for r in rows)
    cr_mean = sum(r["cr"] for r in rows) / len(rows)
    cr_pooled = rows[0]["adc_bits"] / (sum(r["bits_per_sample"] for r in rows) / len(rows))
    return (f"{met}/{len(rows)} | {max(r['worst_prdn'] for r in rows):.2f} | "
            f"{sum(r['mean_prdn'] for r in rows) / len(rows):.2f} | {cr_mean:.2f} | {cr_pooled:.2f} | "
            f"{sum(r['trials'] for r in rows) / len(rows):.1f} | {sum(r['seconds'] for r in rows):.0f}")


def report(args: argparse.Namespace) -> None:
    runs = {name: json.loads(Path(p).read_text()) for name, p in (("before", args.before), ("after", args.after))}
    lines = ["# `--max-prdn P` on every lead: before and after", ""]
    for name, run in runs.items():
        m = run["meta"]
        lines += [f"- {name}: `{m['command']}` ({m['date']}; {m['machine']}; model {m['model']} "
                  f"{m['model_id'][:12]}; package {m['vqcodec']})"]
    lines += [f"- this page: `python {' '.join(sys.argv)}`", "",
              "Each file was decoded with `Codec.decompress` and every lead's PRDN measured on what came back. "
              "*Before*: the target held on the mean over leads; *after*: on the worst lead. CR is against the ADC "
              "resolution (16 bits for LUDB, 11 for MIT-BIH); *mean CR* is the plain mean of the records' CRs, "
              "*pooled CR* is ADC bits over the mean bits/sample (what `vqcodec bench` reports). Trials are real "
              "compress-and-decode runs of the whole record.", "",
              "## Summary", "",
              "| set | P % | code | records with worst lead <= P | worst lead, max % | mean PRDN % | mean CR | "
              "pooled CR | trials per record | seconds, all |", "|---|---|---|---|---|---|---|---|---|---|"]
    groups = {name: _groups(run["rows"]) for name, run in runs.items()}
    for key in groups["after"]:
        for name in runs:
            if key in groups[name]:
                lines.append(f"| {key[0]} | {key[1]:g} | {name} | {_summary(groups[name][key])} |")
    lines += ["", "Where *before* already met P on every lead, *after* may only be as large or smaller:", "",
              "| set | P % | such records | CR before, mean | CR after, mean | after smaller or the same |",
              "|---|---|---|---|---|---|"]
    for key, after in groups["after"].items():
        before = {r["record"]: r for r in groups["before"].get(key, [])}
        pairs = [(before[a["record"]], a) for a in after
                 if a["record"] in before and not before[a["record"]]["worst_prdn"] > key[1]]
        if pairs:
            cr_before, cr_after = (sum(p[i]["cr"] for p in pairs) / len(pairs) for i in (0, 1))
            lines.append(f"| {key[0]} | {key[1]:g} | {len(pairs)} | {cr_before:.2f} | {cr_after:.2f} | "
                         f"{sum(a['bytes'] <= b['bytes'] for b, a in pairs)}/{len(pairs)} |")
    lines += ["", "## Per record", "",
              "| set | P % | record | before: setting | CR | worst lead % | mean % | after: setting | CR | "
              "worst lead % | mean % |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for key, after in groups["after"].items():
        before = {r["record"]: r for r in groups["before"].get(key, [])}
        for a in after:
            b = before.get(a["record"])
            old = (f"{b['setting']} | {b['cr']:.2f} | {b['worst_lead']} {b['worst_prdn']:.2f} | {b['mean_prdn']:.2f}"
                   if b else "| | |")
            lines.append(f"| {key[0]} | {key[1]:g} | {a['record']} | {old} | {a['setting']} | {a['cr']:.2f} | "
                         f"{a['worst_lead']} {a['worst_prdn']:.2f} | {a['mean_prdn']:.2f} |")
    lines += ["", "## Notes", "", *NOTES]
    text = "\n".join(lines) + "\n"
    Path(args.out).write_text(text)
    print(text)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("measure")
    m.add_argument("--data", default=os.environ.get("VQCODEC_DATA", "../shared/data"))
    m.add_argument("--model", default="ecg")
    m.add_argument("--split", default="test", help="the MIT-BIH split (SPLITS.json): test, or val")
    m.add_argument("--label", required=True)
    m.add_argument("--json", required=True)
    r = sub.add_parser("report")
    r.add_argument("--before", required=True)
    r.add_argument("--after", required=True)
    r.add_argument("--out", required=True)
    args = ap.parse_args()
    measure(args) if args.cmd == "measure" else report(args)


if __name__ == "__main__":
    main()

"""NOTE coding NC06 (the integer neural note prior of midi-v2) against NC05 (midi-v1's counts) on the asap pieces.

    python benchmarks/midi_prior.py --split val --lane-notes 64,128,256,512,100000 --json runs/note_prior/val.json
    python benchmarks/midi_prior.py --split test --whole --perturb --json runs/note_prior/test.json   # once
    python benchmarks/midi_prior.py --every --json runs/note_prior/every.json                        # 235 files

Per piece, the symbols the default level codes (`choice.choose`, as the encoder does; the same for both codings):
each stream's ideal bits under NC05 and NC06 (`stream_bits`), the NOTE payloads both write, NC06's encode and
decode time (the NOTE section: graphs, integer CDFs, rANS, match models, pedals), NC05's decode time, and that
NC06 decodes every symbol back. --lane-notes: the same at other lane sizes (val, to choose LANE_NOTES). --whole:
whole files, midi-v1's `compress` against midi-v2's (which writes NC06 where it pays), their fidelity, and that both
decode to the same notes. --perturb: NC06 decoded by a prior whose every accumulator is computed in float32 and moved
by up to 0.49 (tests/helpers/note_prior.FloatPrior). --every: every asap file (all splits) through midi-v2 at the
default level: decoded notes equal midi-v1's, pitch exact, the report's fidelity.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from vqcodec.io.midi import read_midi
from vqcodec.midi import choice
from vqcodec.midi import coder as nc
from vqcodec.midi import file as midi_file
from vqcodec.midi.codec import NoteCodec

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.helpers.note_prior import FloatPrior  # noqa: E402

ASAP = Path("midi/asap")
STREAMS = ("onset", "pitch", "velocity", "duration")
NEURAL = {c.decode() for c in nc.NEURAL_CODINGS}
"""The codings whose notes are NC06's: NC06, and NC08 (the same notes, the pedals under the pedal coding, 1.15)."""


def lanes_at(n: int, lane_notes: int) -> int:
    return int(min(max(n // lane_notes, 1), nc.MAX_LANES))


def same(a: nc.Symbols, b: nc.Symbols) -> bool:
    return all(np.array_equal(getattr(a, f), getattr(b, f)) for f in ("gap", *STREAMS[1:])) and all(
        np.array_equal(a.pedals[c], b.pedals[c]) and np.array_equal(a.depth[c], b.depth[c]) for c in a.pedals)


def piece(perf, v1: NoteCodec, v2: NoteCodec, lane_notes: list[int], perturb: bool) -> dict:  # noqa: ANN001
    q = v2.default_quality
    s, pri, net = v2.setting(q), v2.bundle.priors(q), v2.bundle.prior()
    sym = choice.choose(perf, s, pri)
    n = len(sym.gap)
    out = {"notes": n, "nc05": nc.stream_bits(sym, s, pri), "lanes": nc.lanes_for(n)}
    out["nc06"] = nc.stream_bits(sym, s, pri, nc.NC06, net)
    out["nc05_bytes"] = len(nc.encode(sym, s, pri))
    p05 = nc.encode(sym, s, pri)
    c0 = time.process_time()
    nc.decode(p05, n, pri, "piece")
    out["nc05_decode_cpu_s"] = time.process_time() - c0
    t0, c0 = time.perf_counter(), time.process_time()
    payload = nc.encode(sym, s, pri, nc.NC06, net)
    t1, c1 = time.perf_counter(), time.process_time()
    back, _ = nc.decode(payload, n, pri, "piece", net)
    t2, c2 = time.perf_counter(), time.process_time()
    out |= {"nc06_bytes": len(payload), "encode_s": t1 - t0, "decode_s": t2 - t1, "encode_cpu_s": c1 - c0,
            "decode_cpu_s": c2 - c1, "round_trip": same(back, sym)}
    bare = nc.Symbols(sym.gap, sym.pitch, sym.velocity, sym.duration, {})  # the note streams alone, no pedals
    p_bare = nc.encode(bare, s, pri, nc.NC06, net)
    c0 = time.process_time()
    nc.decode(p_bare, n, pri, "piece", net)
    out["notes_only_decode_cpu_s"] = time.process_time() - c0
    if perturb:
        back, _ = nc.decode(payload, n, pri, "piece", FloatPrior(net, 0.49, seed=n))
        out["perturbed_same"] = same(back, sym)
    out["by_lane_notes"] = {}
    for ln in lane_notes:
        lanes = lanes_at(n, ln)
        bits = nc.stream_bits(sym, s, pri, nc.NC06, net, lanes)
        p = nc.encode(sym, s, pri, nc.NC06, net, lanes)
        c0 = time.process_time()
        nc.decode(p, n, pri, "piece", net)
        out["by_lane_notes"][ln] = {"lanes": lanes, "bits": sum(bits[k] for k in STREAMS),
                                    "decode_cpu_s": time.process_time() - c0}
    return out


def whole(perf, name: str, v1: NoteCodec, v2: NoteCodec) -> dict:  # noqa: ANN001
    a, b = v1.compress(perf, name=name), v2.compress(perf, name=name)
    da, db = v1.decompress(a.data, name), v2.decompress(b.data, name)
    rep = b.report.to_dict()
    coding = midi_file.loads(b.data, name).notes[:4].decode()
    return {"v1_bytes": len(a.data), "v2_bytes": len(b.data), "coding": coding,
            "same_notes": midi_file.notes_digest(da) == midi_file.notes_digest(db), "pitch_exact": rep["pitch_exact"],
            "fidelity_v1": {k: a.report.to_dict()[k] for k in FIDELITY}, "fidelity_v2": {k: rep[k] for k in FIDELITY}}


FIDELITY = ("f1_onset", "f1_offset", "onset_err_ms_median", "onset_err_ms_max", "velocity_mae",
            "duration_rel_err_median", "pedal_depth_mae")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=os.environ.get("VQCODEC_DATA", "../shared/data"))
    ap.add_argument("--split", default="val")
    ap.add_argument("--lane-notes", default="", help="comma list of lane sizes to compare (NC06 bits and speed)")
    ap.add_argument("--whole", action="store_true", help="whole files through midi-v1 and midi-v2")
    ap.add_argument("--perturb", action="store_true", help="decode NC06 with float32 arithmetic off by up to 0.49")
    ap.add_argument("--every", action="store_true", help="every asap file at the default level through midi-v2")
    ap.add_argument("--limit", type=int, default=None, help="the first N pieces only (a quick look)")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    folder = Path(args.data) / ASAP
    v1, v2 = NoteCodec.load("midi-v1"), NoteCodec.load("midi-v2")
    result: dict = {"model": v2.model_id, "load_average": os.getloadavg()}
    if args.every:
        rows, t0 = {}, time.perf_counter()
        for path in sorted(folder.glob("*.mid")):
            try:
                rows[path.name] = whole(read_midi(path), path.stem, v1, v2)
            except Exception as e:  # noqa: BLE001 - the point is to list any failure, whatever it is
                rows[path.name] = {"error": f"{type(e).__name__}: {e}"}
            print(path.name, rows[path.name].get("coding"), rows[path.name].get("same_notes"), file=sys.stderr)
        ok = [r for r in rows.values() if "error" not in r]
        result["every"] = {"files": len(rows), "failures": [k for k, r in rows.items() if "error" in r],
                           "nc06": sum(r["coding"] in NEURAL for r in ok),
                           "same_notes": sum(r["same_notes"] for r in ok),
                           "pitch_exact": sum(r["pitch_exact"] for r in ok), "seconds": time.perf_counter() - t0,
                           "v1_bytes": sum(r["v1_bytes"] for r in ok), "v2_bytes": sum(r["v2_bytes"] for r in ok),
                           "rows": rows}
    else:
        names = json.loads((folder / "SPLITS.json").read_text())[args.split][: args.limit]
        lane_notes = [int(x) for x in args.lane_notes.split(",") if x]
        rows = {}
        for name in names:
            perf = read_midi(folder / name)
            rows[name] = piece(perf, v1, v2, lane_notes, args.perturb)
            if args.whole:
                rows[name]["whole"] = whole(perf, Path(name).stem, v1, v2)
            print(name, rows[name]["notes"], rows[name]["nc05_bytes"], rows[name]["nc06_bytes"], file=sys.stderr)
        n = sum(r["notes"] for r in rows.values())
        per = {c: {k: sum(r[c][k] for r in rows.values()) / n for k in (*STREAMS, "pedal")} for c in ("nc05", "nc06")}
        result |= {"split": args.split, "pieces": len(rows), "notes": n, "bits_per_note": per,
                   "note_streams": {c: sum(per[c][k] for k in STREAMS) for c in per},
                   "payload_bits_per_note": {c: 8 * sum(r[f"{c}_bytes"] for r in rows.values()) / n
                                             for c in ("nc05", "nc06")},
                   "encode_notes_per_s": n / sum(r["encode_s"] for r in rows.values()),
                   "decode_notes_per_s": n / sum(r["decode_s"] for r in rows.values()),
                   "encode_notes_per_cpu_s": n / sum(r["encode_cpu_s"] for r in rows.values()),
                   "decode_notes_per_cpu_s": n / sum(r["decode_cpu_s"] for r in rows.values()),
                   "notes_only_decode_notes_per_cpu_s": n / sum(r["notes_only_decode_cpu_s"] for r in rows.values()),
                   "nc05_decode_notes_per_cpu_s": n / sum(r["nc05_decode_cpu_s"] for r in rows.values()),
                   "round_trips": sum(r["round_trip"] for r in rows.values())}
        if args.perturb:
            result["perturbed_same"] = sum(r["perturbed_same"] for r in rows.values())
        if lane_notes:
            result["by_lane_notes"] = {ln: {"bits": sum(r["by_lane_notes"][ln]["bits"] for r in rows.values()) / n,
                                            "decode_notes_per_cpu_s": n / sum(r["by_lane_notes"][ln]["decode_cpu_s"]
                                                                              for r in rows.values())}
                                       for ln in lane_notes}
        if args.whole:
            w = [r["whole"] for r in rows.values()]
            result["whole"] = {"v1_bits_per_note": 8 * sum(x["v1_bytes"] for x in w) / n,
                               "v2_bits_per_note": 8 * sum(x["v2_bytes"] for x in w) / n,
                               "nc06_files": sum(x["coding"] in NEURAL for x in w),
                               "same_notes": sum(x["same_notes"] for x in w)}
        result["rows"] = rows
    summary = {k: v for k, v in result.items() if k != "rows" and not (isinstance(v, dict) and "rows" in v)}
    if "every" in result:
        summary["every"] = {k: v for k, v in result["every"].items() if k != "rows"}
    print(json.dumps(summary, indent=1, default=str))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1, default=str))


if __name__ == "__main__":
    main()

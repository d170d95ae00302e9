"""Two calibrated ECG ladders on `val`, level by level: the bits the other model needs for the same PRDN.

    python benchmarks/ladder_compare.py --models ecg-v4,ecg-v5

Reads the `val` bits/sample and PRDN that `training.calibrate` measured through the runtime for every level (real
.vqc bytes, the first 10 minutes of the 4 `val` records) from each manifest, so both ladders were measured on the
same signals the same way. For each level of the second model it interpolates the first model's bits at that PRDN
(linearly in log bits against log PRDN, between the first model's neighbouring levels) and prints the ratio; levels
outside the first model's PRDN range get no ratio. Neither model is run.
"""

from __future__ import annotations

import argparse
import math

from vqcodec.models.bundle import load_bundle


def ladder(model: str) -> list[tuple[int, float, float]]:
    """(level, val bits/sample, val PRDN %) of each calibrated level, by increasing bits."""
    q = load_bundle(model).manifest["qualities"]
    return sorted(((int(k), v["val_bits_per_sample"], v["val_prdn"]) for k, v in q.items()), key=lambda t: t[1])


def bits_at(points: list[tuple[int, float, float]], prdn: float) -> float | None:
    """The bits the ladder `points` needs for `prdn`, interpolated in log-log; None outside its range."""
    for (_, b0, p0), (_, b1, p1) in zip(points, points[1:]):
        if p1 <= prdn <= p0:
            w = (math.log(p0) - math.log(prdn)) / (math.log(p0) - math.log(p1)) if p0 != p1 else 0.0
            return math.exp(math.log(b0) + w * (math.log(b1) - math.log(b0)))
    return None


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", required=True, help="REFERENCE,OTHER: names or bundle folders")
    args = ap.parse_args(argv)
    ref_name, other_name = args.models.split(",")
    ref, other = ladder(ref_name), ladder(other_name)
    default = {m: load_bundle(m).manifest["default_quality"] for m in (ref_name, other_name)}
    print(f"| {other_name} level | val bits/sample | val PRDN % | {ref_name}'s bits at that PRDN | ratio |")
    print("|---|---|---|---|---|")
    for level, bits, prdn in sorted(other):
        theirs = bits_at(ref, prdn)
        mark = " (default)" if level == default[other_name] else ""
        cells = (f"{theirs:.3f} | {bits / theirs:.3f}" if theirs else "outside its range | ")
        print(f"| {level}{mark} | {bits:.3f} | {prdn:.2f} | {cells} |")
    print()
    for m in (ref_name, other_name):
        q = load_bundle(m).manifest["qualities"][str(default[m])]
        bits, prdn = q["val_bits_per_sample"], q["val_prdn"]
        print(f"{m}: default level {default[m]}, {bits:.3f} bits/sample at PRDN {prdn:.2f} %")


if __name__ == "__main__":
    main()

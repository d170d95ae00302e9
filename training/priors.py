"""Ship an index prior in a model bundle: bigram counts of its code indices over the train split.

`python -m training.priors --model vqcodec/models/ecg-v1 --data ../shared/data`

Encodes every train record with the bundle (all stages, plain nearest-neighbour search; with `--lam`, stage 1
also with the entropy-constrained search of that weight, whose indices then make stage 1's prior) and counts, per
stage, which index follows which: for stage 1 the previous stage-1 index of the same channel (row K: a
lane's start), for later stages the index one stage up at the same frame — the contexts of
vqcodec.coding.entropy. Writes priors.npy into the bundle and adds it to the manifest; the previous model id goes
into manifest["compatible_ids"], since files written before the prior still decode. A bundle's prior is
never replaced (files coded under it would no longer decode): start again from an export. Calibrate after this:
bit costs change.

With `--stage-lams L1,L2,..` it writes stage_priors.npz instead, one prior per stage count n, counted from the
indices of the n-stage search at weight Ln (what that count's levels write; their bit costs come from the
bundle's priors.npy, and with `--rounds R` from the previous round's counts). Files are then coded with
bigram-rans-2 under the prior of their stage count.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

import vqcodec
from training.data import data_root, mitdb_split
from vqcodec.coding import entropy
from vqcodec.ecg.codec import Codec
from vqcodec.models.bundle import MANIFEST, PRIORS, STAGE_PRIORS, file_sha256, load_bundle


def count_bigrams(codec: Codec, signals: list[vqcodec.Signal], lam: float = 0.0) -> np.ndarray:
    """[stages, codes + 1, codes] int64 counts of (context, index) over the signals' codes, all stages from the
    plain search; with `lam`, stage 1's from the entropy-constrained search of that weight instead (the search
    is greedy by stage, so these are the stage-1 indices of every level at that lambda)."""
    counts = _counts(codec, signals, codec.stages, 0.0)
    if lam:
        counts[0] = _counts(codec, signals, 1, lam)[0]
    return counts


def _counts(codec: Codec, signals: list[vqcodec.Signal], stages: int, lam: float) -> np.ndarray:
    """Bigram counts [stages, codes + 1, codes] of the signals encoded with `stages` stages at weight `lam`."""
    counts = np.zeros((stages, codec.codes + 1, codec.codes), dtype=np.int64)
    codec.levels[0] = (stages, lam)
    for sig in signals:
        counts += entropy.count_bigrams(codec.encode_model_rate(np.nan_to_num(sig.samples), 0).indices, codec.codes)
    del codec.levels[0]
    return counts


def rewrite_manifest(bundle: Path, manifest: dict) -> None:
    """Write a changed manifest whose decoding path is unchanged: the previous id joins compatible_ids, so
    files written with it still decode. Verifies the bundle afterwards."""
    old_id = file_sha256(bundle / MANIFEST)
    manifest["compatible_ids"] = sorted(set(manifest.get("compatible_ids", [])) | {old_id})
    (bundle / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    load_bundle(bundle)


def _add_prior_file(bundle: Path, name: str, what: str, write: Callable[[Path], None], key: str, info: dict,
                    ) -> None:
    """Write a prior file into the bundle with `write`, list it in the manifest with its sha256 and `info`
    under `key` (the old id stays compatible). Refuses to replace one: files coded under it would no longer
    decode."""
    manifest = json.loads((bundle / MANIFEST).read_text())
    if name in manifest["files"]:
        raise ValueError(f"{bundle} already has {what}: files coded under {name} would no longer decode with a "
                         "new one; start from a fresh export")
    write(bundle / name)
    manifest["files"][name] = file_sha256(bundle / name)
    manifest[key] = {**info, "split": "train"}
    rewrite_manifest(bundle, manifest)


def add_priors(bundle: Path, counts: np.ndarray, command: str) -> None:
    """Write priors.npy into the bundle and list it in the manifest."""
    _add_prior_file(bundle, PRIORS, "an index prior",
                    lambda path: np.save(path, counts.astype(np.uint32), allow_pickle=False),
                    "priors", {"command": command, "indices_counted": int(counts[0].sum())})


def stage_counts(codec: Codec, signals: list[vqcodec.Signal], lams: list[float], rounds: int = 1,
                 ) -> dict[int, np.ndarray]:
    """n -> bigram counts [n, codes + 1, codes] of the signals' n-stage indices at weight lams[n - 1].

    The first round's search prices indices under the bundle's own prior; each further round under the counts
    of the round before, so that the prior and the search that writes the indices agree (the ECVQ design
    iteration of Chou, Lookabaugh & Gray 1989). At weight 0 the search ignores prices: counted once."""
    counts: dict[int, np.ndarray] = {}
    for r in range(rounds):
        if r:  # price this round's search by the last round's counts
            codec = Codec(dataclasses.replace(codec.bundle, stage_priors=counts))
        counts = {n: counts[n] if r and not lam else _counts(codec, signals, n, lam)
                  for n, lam in enumerate(lams, start=1)}
        print(f"round {r + 1} of {rounds} counted", file=sys.stderr, flush=True)
    return counts


def add_stage_priors(bundle: Path, counts: dict[int, np.ndarray], lams: list[float], rounds: int,
                     command: str) -> None:
    """Write stage_priors.npz (array "n": the counts for n stages) and list it in the manifest."""
    arrays = {str(n): c.astype(np.uint32) for n, c in counts.items()}
    _add_prior_file(bundle, STAGE_PRIORS, "stage priors", lambda path: np.savez_compressed(path, **arrays),
                    "stage_priors", {"command": command, "lambdas": lams, "rounds": rounds})


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, type=Path, help="bundle folder (rewritten)")
    ap.add_argument("--data", default=None)
    ap.add_argument("--lam", type=float, default=0.0,
                    help="count stage 1's indices at this ECVQ weight, the one-stage levels' (default 0: plain "
                    "search). On val, later stages counted at 0.3 cost up to 14 %% more bits on 2-3 stages")
    ap.add_argument("--stage-lams", default=None,
                    help="comma-separated weights, one per stage count from 1: write stage_priors.npz instead")
    ap.add_argument("--rounds", type=int, default=1,
                    help="with --stage-lams: count again this many times, each search priced by the last counts")
    args = ap.parse_args(argv)
    root = data_root(args.data)
    codec = Codec.load(args.model)
    signals = []
    for name in mitdb_split(root, "train"):
        signals.append(vqcodec.read(root / "ecg" / "mitdb" / name))
        print(f"read {name}", file=sys.stderr, flush=True)
    command = "python -m training.priors " + " ".join(argv if argv is not None else sys.argv[1:])
    if args.stage_lams:
        lams = [float(v) for v in args.stage_lams.split(",")]
        if len(lams) != codec.stages:
            raise SystemExit(f"--stage-lams: {codec.stages} weights needed, one per stage count")
        add_stage_priors(args.model, stage_counts(codec, signals, lams, args.rounds), lams, args.rounds, command)
        print(f"{args.model}: stage priors at {lams}, {args.rounds} rounds, from {len(signals)} train records")
        return
    counts = count_bigrams(codec, signals, args.lam)
    add_priors(args.model, counts, command)
    print(f"{args.model}: priors from {counts[0].sum()} stage-1 indices of {len(signals)} train records")


if __name__ == "__main__":
    main()

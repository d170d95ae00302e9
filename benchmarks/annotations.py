"""What keeping a record's annotation files costs: the bytes of the aNNO section in the .vqc files `vqcodec compress`
writes, as a share of each file.

    python benchmarks/annotations.py DATA/ecg/mitdb --split-file DATA/ecg/mitdb/SPLITS.json --split test

Compresses each record as `vqcodec compress NNN` does at the default level (`vqcodec.compress_many`, the CLI's own
path, which stores the annotation files found beside the record), then reads the section from each file: its
payload plus the 12 bytes of tag, length and CRC are what the file would be smaller by without it (checked by
writing each file again without its annotation files). Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import vqcodec
from vqcodec.container import format as vqc
from vqcodec.ecg import file as ecg_file

SECTION_FRAMING = 12
"""Bytes of a section besides its payload: tag, length, CRC."""


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("folder", type=Path, help="a folder of WFDB records with their annotation files")
    p.add_argument("--split-file", type=Path, help="JSON {split: [record names]}")
    p.add_argument("--split", help="the split to measure (with --split-file)")
    p.add_argument("--jobs", type=int, default=1)
    a = p.parse_args()
    names = (json.loads(a.split_file.read_text())[a.split] if a.split_file
             else sorted(h.stem for h in a.folder.glob("*.hea")))
    rows, totals = [], [0, 0, 0]
    with tempfile.TemporaryDirectory() as out:
        results = vqcodec.compress_many([a.folder / f"{n}.hea" for n in names], out, jobs=a.jobs)
        failed = [r for r in results if not r.ok]
        if failed:
            raise SystemExit(f"failed: {failed[0].input}: {failed[0].error}")
        for name in names:
            data = (Path(out) / f"{name}.vqc").read_bytes()
            c = vqc.read(data, name)
            payload = c.sections[ecg_file.TAG_ANNO]
            files = ecg_file.read_annotations(payload, name)
            section = len(payload) + SECTION_FRAMING
            f = vqc.loads(data, name)
            f.annotations = {}
            assert len(ecg_file.dumps(f)) == len(data) - section  # what the file would be without them
            raw = sum(map(len, files.values()))
            rows.append(f"| {name} | {', '.join(sorted(files))} | {raw:,} | {section:,} | {len(data):,} | "
                        f"{100 * section / len(data):.2f} % |")
            totals = [totals[0] + raw, totals[1] + section, totals[2] + len(data)]
    print("| record | annotation files | their bytes | aNNO section bytes | .vqc file bytes | share of the file |")
    print("|---|---|---:|---:|---:|---:|")
    print("\n".join(rows))
    print(f"| all {len(names)} | | {totals[0]:,} | {totals[1]:,} | {totals[2]:,} | "
          f"{100 * totals[1] / totals[2]:.2f} % |")


if __name__ == "__main__":
    main()

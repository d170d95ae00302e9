#!/usr/bin/env python3
"""atheris harness for the .vqc parser: any input must parse or raise a VqcError, never anything else.

Run by hand or nightly (the `[fuzz]` extra installs atheris; CI does not run this file):

    nice -n 19 python tests/fuzz/fuzz_format.py /tmp/vqc-work tests/fuzz/corpus \
        -dict=tests/fuzz/vqc.dict -max_total_time=900 -artifact_prefix=/tmp/vqc-crash-

New inputs go to the first folder (keep tests/fuzz/corpus as the read-only seed folder second). A crash
found this way is copied into tests/data/crashes/, where tests/test_bad_input.py replays it with `check`.
"""

from __future__ import annotations

import dataclasses
import struct
import sys
import warnings
import zlib

MAGIC = b"\x89VQC\r\n\x1a\n"
_U32, _U64 = struct.Struct("<I"), struct.Struct("<Q")


def fix_crcs(data: bytes) -> bytes:
    """`data` with its header, section and block CRCs and END length recomputed, where the structure allows.

    Random mutations almost always break a CRC, so the parser stops at the first check; fixing them lets
    the fuzzer reach the code behind the checks (what PNG fuzzers do). Best effort: never raises.
    """
    out = bytearray(data)
    if len(out) < 16 or out[:8] != MAGIC:
        return data
    end = 16 + _U32.unpack_from(out, 12)[0]
    if end + 4 > len(out):
        return data
    _U32.pack_into(out, end, zlib.crc32(out[8:end]))
    pos = end + 4
    while pos + 8 <= len(out):
        tag, n = bytes(out[pos : pos + 4]), _U32.unpack_from(out, pos + 4)[0]
        start = pos + 8
        if start + n + 4 > len(out):
            break
        if tag == b"BLKS":
            b = start
            while b + 8 <= start + n:
                clen = _U32.unpack_from(out, b)[0]
                if b + 8 + clen > start + n:
                    break
                _U32.pack_into(out, b + 4, zlib.crc32(out[b + 8 : b + 8 + clen]))
                b += 8 + clen
        if tag == b"END " and n == 8:
            _U64.pack_into(out, start, start + n + 4)
        _U32.pack_into(out, start + n, zlib.crc32(out[start : start + n], zlib.crc32(tag)))
        pos = start + n + 4
        if tag == b"END ":
            break
    return bytes(out)


def check_both(data: bytes) -> None:
    """The fuzz target: `check` on the raw input and on the input with its CRCs fixed."""
    check(data)
    check(fix_crcs(data))


def check(data: bytes) -> None:
    """The property the fuzzer tests, also replayed in CI on the seeds and saved crashes.

    `loads` and `read_header` either raise a VqcError or succeed; on success they agree on the header, and
    the parsed file serialises again and parses back to the same header, blocks and NaN runs. A residual
    layer that needs no model (n_stages 0) is decoded too, and so is a NOTE section (its priors come from the
    shipped MIDI bundle, no network needed); both may only raise a VqcError.
    """
    import numpy as np

    from vqcodec.coding import residual
    from vqcodec.container import format as vf
    from vqcodec.ecg.file import residual_block_spans
    from vqcodec.errors import VqcError
    from vqcodec.midi.file import MidiFile

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # unknown ancillary sections warn; that is not a failure
        try:
            f = vf.loads(data, "fuzz")
        except VqcError:
            try:
                vf.read_header(data, "fuzz")
            except VqcError:
                pass
            return
        header, _, size = vf.read_header(data, "fuzz")
        assert header == f.header and size == len(data)
        if isinstance(f, MidiFile):
            codec = _note_codec()
            as_ours = dataclasses.replace(f, header=dataclasses.replace(f.header, model_sha256=codec.model_id))
            try:
                codec.decode_file(as_ours, "fuzz")  # under the shipped bundle's id, so any input reaches the coder
            except VqcError:
                pass
            again_midi = vf.loads(vf.dumps(f), "again")
            assert again_midi.header == f.header and again_midi.notes == f.notes
            return
        if f.residual is not None and f.header.n_stages == 0:
            try:
                residual.decode(f.residual, None, (f.header.n_samples, f.header.n_channels), "fuzz")
            except VqcError:
                pass
        if f.residual_blocks is not None and f.header.n_stages == 0 and f.meta.residual_block is not None:
            spans = residual_block_spans(f.header.n_samples, f.meta.residual_block)
            for payload, (a, z) in zip(f.residual_blocks, spans):
                try:
                    residual.decode(payload, None, (z - a, f.header.n_channels), "fuzz")
                except VqcError:
                    pass
        again = vf.loads(vf.dumps(f), "again")
    assert again.header == f.header
    assert len(again.blocks) == len(f.blocks)
    for a, b in zip(again.blocks, f.blocks):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(again.nan_runs, f.nan_runs)


_NOTE_CODEC: list = []


def _note_codec():  # noqa: ANN202 - a NoteCodec, loaded once (bundle verification reads every prior file)
    """The shipped MIDI codec."""
    if not _NOTE_CODEC:
        from vqcodec.midi.codec import NoteCodec

        _NOTE_CODEC.append(NoteCodec.load("midi"))
    return _NOTE_CODEC[0]


def main() -> None:
    import atheris

    # Instrument vqcodec only: the package __init__ also pulls in wfdb/pandas, whose edges would only add noise.
    with atheris.instrument_imports(include=["vqcodec"]):
        import vqcodec.coding.residual  # noqa: F401
        import vqcodec.container.format  # noqa: F401
        import vqcodec.midi.coder  # noqa: F401
    atheris.Setup(sys.argv, check_both)
    atheris.Fuzz()


if __name__ == "__main__":
    main()

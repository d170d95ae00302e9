"""Crafting .vqc files byte by byte for tests: split a valid file into sections, change one thing, join it back.

Every CRC, length and END is fixed up, so a test changes exactly one thing; the layout is docs/FORMAT.md's.
"""

from __future__ import annotations

import hashlib
import json
import struct
import zlib

from vqcodec.container import format as vf

# Header field offsets in the file (docs/FORMAT.md, "Header").
OFF_MAJOR, OFF_MINOR, OFF_HDR_LEN, OFF_KIND, OFF_FS, OFF_CHANNELS, OFF_SAMPLES = 8, 10, 12, 16, 17, 25, 27
OFF_BLOCKS, OFF_CODEBOOK, OFF_BITS, OFF_MODEL_SHA = 49, 54, 58, 59
HEADER_START = 16


def crc(data: bytes) -> bytes:
    return struct.pack("<I", zlib.crc32(data))


def split(data: bytes) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    """A valid file as (magic..header CRC, [(tag, payload), ...]) without END."""
    (hdr_len,) = struct.unpack_from("<I", data, OFF_HDR_LEN)
    pos = HEADER_START + hdr_len + 4
    head, sections = data[:pos], []
    while (tag := data[pos : pos + 4]) != b"END ":
        (n,) = struct.unpack_from("<I", data, pos + 4)
        sections.append((tag, data[pos + 8 : pos + 8 + n]))
        pos += 12 + n
    return head, sections


def join(head: bytes, sections: list[tuple[bytes, bytes]], bind: bool = True) -> bytes:
    """Reassemble a file with fresh section CRCs and a correct END; with `bind`, a last bIND section (format 1.8)
    gets the digest of the bytes before it, so that only the one change a test makes is in the file."""
    if bind and sections and sections[-1][0] == vf.TAG_BIND.encode():
        before = head + b"".join(t + struct.pack("<I", len(p)) + p + crc(t + p) for t, p in sections[:-1])
        sections = [*sections[:-1], (sections[-1][0], hashlib.sha256(before).digest())]
    body = b"".join(t + struct.pack("<I", len(p)) + p + crc(t + p) for t, p in sections)
    end = struct.pack("<Q", len(head) + len(body) + 20)
    return head + body + b"END " + struct.pack("<I", 8) + end + crc(b"END " + end)


def patch_header(data: bytes, offset: int, fmt: str, *values: object) -> bytes:
    """Overwrite header fields and fix the header CRC, so only the fields' meaning is tested."""
    out = bytearray(data)
    struct.pack_into("<" + fmt, out, offset, *values)
    (hdr_len,) = struct.unpack_from("<I", out, OFF_HDR_LEN)
    end = HEADER_START + hdr_len
    out[end : end + 4] = crc(bytes(out[8:end]))
    if bytes(out).rfind(vf.TAG_BIND.encode()) > end:  # a bound file (1.8): its binding follows, as the CRC does
        return join(*split(bytes(out)))
    return bytes(out)


def block_frames(blks: bytes) -> list[bytes]:
    """The zstd frames of a BLKS payload, in order."""
    frames, pos = [], 0
    while pos < len(blks):
        (n,) = struct.unpack_from("<I", blks, pos)
        frames.append(blks[pos + 8 : pos + 8 + n])
        pos += 8 + n
    return frames


def with_block(data: bytes, b: int, frame: bytes) -> bytes:
    """Replace block b's zstd frame (block CRC, section CRC and END fixed up)."""
    head, sections = split(data)
    i = [t for t, _ in sections].index(b"BLKS")
    frames = block_frames(sections[i][1])
    frames[b] = frame
    sections[i] = (b"BLKS", b"".join(struct.pack("<I", len(f)) + crc(f) + f for f in frames))
    return join(head, sections)


def with_section(data: bytes, tag: bytes, payload: bytes) -> bytes:
    """`data` with one more section (tag, payload) before END (before bIND, which stays last, with its digest)."""
    head, sections = split(data)
    bind = [s for s in sections if s[0] == vf.TAG_BIND.encode()]
    return join(head, [*(s for s in sections if s[0] != vf.TAG_BIND.encode()), (tag, payload), *bind])


def flip_in_block(data: bytes, b: int, offset: int) -> bytes:
    """`data` with one byte of block b flipped in place, no CRC fixed: damage as a disk would do it.

    offset >= 0 is into the block's zstd frame; -8..-1 into its 8-byte head (length, CRC)."""
    frame = block_frames(split(data)[1][[t for t, _ in split(data)[1]].index(b"BLKS")][1])[b]
    at = data.index(frame) + offset
    return data[:at] + bytes([data[at] ^ 0x40]) + data[at + 1 :]


def with_meta(data: bytes, **changes: object) -> bytes:
    """`data` with header meta keys replaced, every CRC and length fixed: a well-formed file, odd content."""
    (hdr_len,) = struct.unpack_from("<I", data, OFF_HDR_LEN)
    fixed_end = 16 + vf._FIXED.size
    meta = json.loads(data[fixed_end : 16 + hdr_len])
    meta.update(changes)
    raw = json.dumps(meta, allow_nan=True).encode()
    head = data[:8] + data[8:12] + struct.pack("<I", vf._FIXED.size + len(raw)) + data[16:fixed_end] + raw
    _, sections = split(data)
    return join(head + struct.pack("<I", zlib.crc32(head[8:])), sections)

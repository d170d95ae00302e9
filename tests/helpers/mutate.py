"""Mutations of real .vqc files for the fuzz campaign (benchmarks/fuzz.py) and its fast slice in the tests.

Random damage (bit flips, overwrites, truncations, insertions, deletions) and the structured kind that CRCs alone
cannot catch: splices of two files at the same offset, a section transplanted from another file with its own
valid CRC, sections swapped or reordered, all with END fixed up so that only the binding can tell. The binding
itself is left as the file had it: these are accidents (a tool that reassembles files, a copy cut and resumed from
another file), not a forger who recomputes the SHA-256; a file's integrity, not its authenticity.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

from tests.helpers.vqc import join, split

Mutation = Callable[[random.Random, bytes, Sequence[bytes]], bytes]


def bit_flip(rng: random.Random, data: bytes, others: Sequence[bytes]) -> bytes:
    out = bytearray(data)
    at = rng.randrange(len(out))
    out[at] ^= 1 << rng.randrange(8)
    return bytes(out)


def overwrite(rng: random.Random, data: bytes, others: Sequence[bytes]) -> bytes:
    out = bytearray(data)
    at = rng.randrange(len(out))
    n = min(len(out) - at, rng.randint(1, 8))
    out[at : at + n] = bytes(rng.randrange(256) for _ in range(n))
    return bytes(out)


def truncate(rng: random.Random, data: bytes, others: Sequence[bytes]) -> bytes:
    return data[: rng.randrange(len(data))]


def insert(rng: random.Random, data: bytes, others: Sequence[bytes]) -> bytes:
    at = rng.randrange(len(data) + 1)
    return data[:at] + bytes(rng.randrange(256) for _ in range(rng.randint(1, 8))) + data[at:]


def delete(rng: random.Random, data: bytes, others: Sequence[bytes]) -> bytes:
    at = rng.randrange(len(data))
    return data[:at] + data[at + rng.randint(1, 8) :]


def splice(rng: random.Random, data: bytes, others: Sequence[bytes]) -> bytes:
    """The first bytes of this file, then another file's bytes from the same offset on."""
    other = rng.choice(others)
    cut = rng.randrange(1, min(len(data), len(other)))
    return data[:cut] + other[cut:]


def section_splice(rng: random.Random, data: bytes, others: Sequence[bytes]) -> bytes:
    """This file's header and first sections, then another file's sections from the same index on (END fixed)."""
    head, sections = split(data)
    _, theirs = split(rng.choice(others))
    k = rng.randrange(0, min(len(sections), len(theirs)) + 1)
    return join(head, sections[:k] + theirs[k:], bind=False)


def transplant(rng: random.Random, data: bytes, others: Sequence[bytes]) -> bytes:
    """One section replaced by the same-tag section of another file (its CRC valid; END fixed)."""
    head, sections = split(data)
    _, theirs = split(rng.choice(others))
    shared = [t for t, _ in sections if t in dict(theirs)]
    if not shared:
        return swap(rng, data, others)
    tag = rng.choice(shared)
    return join(head, [(t, dict(theirs)[t] if t == tag else p) for t, p in sections], bind=False)


def swap(rng: random.Random, data: bytes, others: Sequence[bytes]) -> bytes:
    """Two sections exchanged (END fixed)."""
    head, sections = split(data)
    if len(sections) < 2:
        return data
    i, j = rng.sample(range(len(sections)), 2)
    sections[i], sections[j] = sections[j], sections[i]
    return join(head, sections, bind=False)


def reorder(rng: random.Random, data: bytes, others: Sequence[bytes]) -> bytes:
    head, sections = split(data)
    rng.shuffle(sections)
    return join(head, sections, bind=False)


RANDOM = {"bit flip": bit_flip, "overwrite": overwrite, "truncation": truncate, "insertion": insert,
          "deletion": delete}
STRUCTURED = {"splice": splice, "section splice": section_splice, "transplant": transplant, "swap": swap,
              "reorder": reorder}
ALL: dict[str, Mutation] = {**RANDOM, **STRUCTURED}

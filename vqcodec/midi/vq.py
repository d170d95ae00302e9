"""midi-vq: piano performances <-> NOTE payloads (coding VQN1, format 1.13) whose timing, duration and velocity are
the code indices of a VQ-VAE over windows of notes; pitch and note order exact. Neighbour of vqcodec.midi.codec
(the grid coder, whose NoteCodec this subclasses) and of vqcodec.midi.vq_features (the network's inputs).

A performance's notes, in (onset, pitch) order, are cut into windows of `window` notes (the last one padded). The
encoder graph turns each window's features (vq_features) and pitches into `window / hop` latent vectors; residual
codebooks quantise them, and a quality level keeps the first `stages` stages. The decoder graph turns the kept
codes and the pitches back into features, which are put onto integer grids (onset gap and duration in whole
milliseconds, velocity 1..127), so what a decoder rebuilds does not depend on float noise below half a
millisecond. Onsets are rebuilt note by note from the decoded onset before plus the decoded gap, and a
correction k per note moves that by k steps: the first note of every window (its anchor) by steps of
`anchor_ms`, so each window starts within anchor_ms / 2 of its true time and no error carries from window to
window, the others by steps of 2 x `onset_bound_ms`, so no onset is ever more than onset_bound_ms from the
original. The encoder computes the corrections on its own decoded output (closed loop), so they are exact.

Streams of the payload: the pitches (the NOTE coder's match model, with no chord flag: pitches are decoded before
the onsets), then the corrections, both under adaptive models with priors counted on the train split; the code
indices under vqcodec.coding.entropy's bigram rANS coder with the bundle's prior; the pedals as a NOTE payload of
the grid coder with no notes (NC05 at PEDAL_SETTING, with the priors of the midi-v1 level it names; NC07, format
1.15, where the grid coder's pedal coding codes them in fewer bytes). The meta
events go to eVNT as with the grid coder. Layout: docs/FORMAT.md, section NOTE, coding VQN1.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vqcodec.coding import entropy
from vqcodec.container.format import ZSTD_LEVEL
from vqcodec.errors import ChecksumError, FormatError, InputError, LimitError, TruncatedError
from vqcodec.metrics import Compressed
from vqcodec.midi import coder as notecoder
from vqcodec.midi import file as midi_file
from vqcodec.midi.codec import NoteCodec
from vqcodec.midi.file import VQ_NOTE_CODING, MidiFile, MidiMeta
from vqcodec.midi.performance import MIDI_MAX, Performance
from vqcodec.midi.vq_features import (
    DURATION,
    DURATION_FLOOR_S,
    GAP,
    N_FEATURES,
    VELOCITY,
    duration_seconds,
    gap_seconds,
    note_features,
    velocity_value,
)
from vqcodec.models.bundle import NoteBundle

VQ_CODER = "vq"
"""The manifest's `coder` of a MIDI bundle whose levels are midi-vq levels (the grid coder's bundles have none)."""
MS_PER_S = 1000
FS_MS = 1000.0
"""The header's rate of a VQN1 file: its onsets and durations are on a 1 ms grid."""
PEDAL_SETTING = notecoder.NoteSetting(24, 12, 1800)
"""The grid coder's setting whose prior tables (midi-v1's level 1, listed by the bundle) code the pedal stream; a
level puts the pedal events on its own grid (`pedal_grid_ms`) and levels, the velocity and duration grids stay
these (no note is coded in that stream)."""
CORRECTION_DIRECT = 48
"""Zigzagged corrections 0 .. CORRECTION_DIRECT - 1 are one symbol; a larger one is the symbol CORRECTION_DIRECT + n,
n the bit length of its excess, then the excess's n - 1 low bits as the grid coder's escapes have them
(notecoder.low_bits)."""
CORRECTION_LENGTHS = 33
CORRECTION_SYMBOLS = CORRECTION_DIRECT + CORRECTION_LENGTHS
CORRECTION_CONTEXTS = 4
"""A correction's context: whether its note is a window's anchor, and whether the correction before was not 0."""
_HEAD = struct.Struct("<4sBBHHH")  # coding, stages, pedal_levels, onset_bound_ms, anchor_ms, pedal_grid_ms
_U32 = struct.Struct("<I")
PEDAL_CODINGS = (notecoder.NOTE_CODING, notecoder.NC07)
"""The codings of a VQN1 payload's pedal stream: NC05, or (format 1.15) NC07 where its pedal coding pays."""
MAX_WINDOWS_NOTES = notecoder.MAX_NOTES


@dataclass(frozen=True)
class VqLevel:
    """One quality level: the codebook stages kept, the onset bound (ms; non-anchor corrections step by twice it),
    the anchor step (ms), and the pedals' levels and grid (ms)."""

    stages: int
    onset_bound_ms: int
    anchor_ms: int
    pedal_levels: int
    pedal_grid_ms: int

    @classmethod
    def from_manifest(cls, entry: dict) -> VqLevel:
        return cls(int(entry["stages"]), int(entry["onset_bound_ms"]), int(entry["anchor_ms"]),
                   int(entry["pedal_levels"]), int(entry["pedal_grid_ms"]))

    @property
    def pedal_setting(self) -> notecoder.NoteSetting:
        _, vstep, dmilli = PEDAL_SETTING.grids
        return notecoder.NoteSetting(self.pedal_grid_ms, vstep, dmilli, self.pedal_levels)


@dataclass
class VqCodes:
    """What a VQN1 payload holds besides the pedals: pitches [N], code indices [windows, stages, window / hop]
    and onset corrections [N], at one level."""

    pitch: np.ndarray
    indices: np.ndarray
    corrections: np.ndarray
    level: VqLevel


class VqModel:
    """A midi-vq bundle's network: the encoder and decoder graphs, the codebooks and the priors."""

    def __init__(self, bundle: NoteBundle, threads: int | None = None) -> None:
        from vqcodec.models.runtime import session

        m = bundle.manifest
        self.window, self.hop = int(m["window"]), int(m["hop"])
        self.frames = self.window // self.hop
        path = lambda name: bundle.files.get(name, bundle.path / name)  # noqa: E731
        self.codebooks = np.load(path("codebooks.npy"), allow_pickle=False).astype(np.float32)
        self.n_stages, self.n_codes, self.latent = self.codebooks.shape
        with np.load(path(m["priors"]), allow_pickle=False) as z:
            self.priors = {k: z[k].astype(np.int64) for k in z.files}
        self.index_prior = entropy.prior_weights(self.priors["index"])
        with np.load(path(m["pedal_priors"]), allow_pickle=False) as z:
            self.pedal_priors = {k: z[k].astype(np.int64) for k in z.files}
        self.encoder = session(path("encoder.onnx"), threads)
        self.decoder = session(path("decoder.onnx"), threads)

    def windows(self, n: int) -> int:
        return -(-n // self.window)

    def _pad(self, a: np.ndarray, n_windows: int) -> np.ndarray:
        """Notes [N, ...] -> [windows, window, ...], the last window padded with its last row (or zeros)."""
        out = np.zeros((n_windows * self.window, *a.shape[1:]), a.dtype)
        out[: len(a)] = a
        if len(a):
            out[len(a) :] = a[-1]
        return out.reshape(n_windows, self.window, *a.shape[1:])

    def encode(self, perf: Performance) -> np.ndarray:
        """Every stage's code indices [windows, n_stages, window / hop] of a performance (greedy residual search)."""
        nw = self.windows(len(perf))
        feats = self._pad(note_features(perf.onset, perf.offset, perf.velocity), nw)
        if len(perf):
            feats[-1, len(perf) - (nw - 1) * self.window :] = 0  # padded notes: no gap, shortest, silent
        pitch = self._pad(perf.pitch.astype(np.int64), nw)
        z = self.encoder.run(None, {"features": feats.transpose(0, 2, 1).copy(), "pitch": pitch})[0]
        residual = z.transpose(0, 2, 1).reshape(-1, self.latent).astype(np.float32)
        idx = np.zeros((self.n_stages, len(residual)), np.uint16)
        for s in range(self.n_stages):
            e = self.codebooks[s]
            d = (residual**2).sum(1, keepdims=True) - 2 * residual @ e.T + (e**2).sum(1)
            idx[s] = d.argmin(1)
            residual = residual - e[idx[s]]
        return idx.reshape(self.n_stages, nw, self.frames).transpose(1, 0, 2).copy()

    def decode(self, indices: np.ndarray, pitch: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Kept code indices [windows, stages, frames] and pitches [N] -> per note the decoded onset gap (ms),
        duration (ms) and velocity, as integers."""
        n = len(pitch)
        nw = indices.shape[0]
        if n == 0:
            empty = np.zeros(0, np.int64)
            return empty, empty, empty
        latent = np.zeros((nw, self.frames, self.latent), np.float32)
        for s in range(indices.shape[1]):  # in stage order, in float32: the same sum on every machine
            latent = latent + self.codebooks[s][indices[:, s].astype(np.int64)]
        out = self.decoder.run(None, {"latent": latent.transpose(0, 2, 1).copy(),
                                      "pitch": self._pad(pitch.astype(np.int64), nw)})[0]
        f = out.transpose(0, 2, 1).reshape(-1, N_FEATURES)[:n].astype(np.float64)
        gap = np.rint(gap_seconds(f[:, GAP]) * MS_PER_S).astype(np.int64)
        duration = np.maximum(np.rint(duration_seconds(f[:, DURATION]) * MS_PER_S), DURATION_FLOOR_S * MS_PER_S)
        velocity = np.clip(np.rint(velocity_value(f[:, VELOCITY])), 1, MIDI_MAX).astype(np.int64)
        return gap, duration.astype(np.int64), velocity


def onsets_ms(gap: np.ndarray, corrections: np.ndarray, level: VqLevel, window: int) -> np.ndarray:
    """Decoded onsets (whole ms) from decoded gaps and the corrections (see the module's docstring)."""
    out = np.zeros(len(gap), np.int64)
    prev = 0
    for i, (g, k) in enumerate(zip(gap.tolist(), corrections.tolist())):
        step = level.anchor_ms if i % window == 0 else 2 * level.onset_bound_ms
        prev = out[i] = max(prev + g + k * step, 0)
    return out


def corrections_for(onset_s: np.ndarray, gap: np.ndarray, level: VqLevel, window: int) -> np.ndarray:
    """The corrections that put each decoded onset within its bound of the original (closed loop on the decoded
    onsets, as `onsets_ms` rebuilds them)."""
    k = np.zeros(len(gap), np.int64)
    prev = 0
    for i, (o, g) in enumerate(zip((onset_s * MS_PER_S).tolist(), gap.tolist())):
        step = level.anchor_ms if i % window == 0 else 2 * level.onset_bound_ms
        base = prev + g
        k[i] = int(np.floor((o - base) / step + 0.5))
        prev = max(base + int(k[i]) * step, 0)
    return k


def _zigzag(k: np.ndarray) -> np.ndarray:
    return np.where(k >= 0, 2 * k, -2 * k - 1)


def _unzigzag(z: np.ndarray) -> np.ndarray:
    return np.where(z % 2 == 0, z // 2, -(z + 1) // 2)


def correction_contexts(corrections: np.ndarray, window: int) -> np.ndarray:
    anchor = (np.arange(len(corrections)) % window == 0).astype(np.int64)
    before = np.concatenate([[0], corrections[:-1]]) != 0
    return anchor * 2 + before.astype(np.int64)


def pitch_streams(pitch: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The grid coder's pitch plan with no chord flag (onsets are decoded after the pitches): (notes with a match,
    their hit flags and flag contexts, the notes whose pitch is coded, their contexts)."""
    sym = notecoder.Symbols(np.ones(len(pitch), np.int64), pitch.astype(np.int64), pitch, pitch, {})
    return notecoder.pitch_plan(sym)


def count_notes(pitch: np.ndarray, corrections: np.ndarray | None, window: int) -> dict[str, np.ndarray]:
    """(context, symbol) counts of one piece's pitch streams and, if given, corrections: what the train split's
    priors sum (training/export_midi_vq.py)."""
    has, hit, hit_ctx, coded, miss_ctx = pitch_streams(pitch)
    out = {"pitch_hit": np.zeros((2 * notecoder.N_MATCH, 2), np.int64),
           "pitch_miss": np.zeros((2 * (MIDI_MAX + 1), MIDI_MAX + 1), np.int64)}
    np.add.at(out["pitch_hit"], (hit_ctx, hit), 1)
    np.add.at(out["pitch_miss"], (miss_ctx, pitch[coded]), 1)
    if corrections is not None:
        table = np.zeros((CORRECTION_CONTEXTS, CORRECTION_SYMBOLS), np.int64)
        z = _zigzag(corrections)
        lengths = notecoder.bit_lengths(np.maximum(z - CORRECTION_DIRECT, 0))
        sym = np.where(z < CORRECTION_DIRECT, z, CORRECTION_DIRECT + lengths)
        np.add.at(table, (correction_contexts(corrections, window), sym), 1)
        out["correction"] = table
    return out


class VqNoteCodec(NoteCodec):
    """A loaded midi-vq bundle: the NoteCodec interface (compress, decompress, decode_file, the quality ladder)
    with VQN1 payloads. `codes` and `rebuild` are the tokens' two halves (vqcodec.midi.tokens)."""

    def __init__(self, bundle: NoteBundle, threads: int | None = None) -> None:
        super().__init__(bundle)
        self.model = VqModel(bundle, threads)
        self.levels = [VqLevel.from_manifest(e) for e in bundle.manifest["levels"]]

    def level_of(self, quality: int) -> VqLevel:
        return self.levels[quality - 1]

    def pedal_levels(self, quality: int) -> int:
        return self.level_of(quality).pedal_levels

    def setting(self, quality: int) -> notecoder.NoteSetting:
        return self.level_of(quality).pedal_setting

    def codes(self, perf: Performance, quality: int) -> VqCodes:
        """The pitches, kept code indices and closed-loop corrections of a performance at a quality level."""
        level = self.level_of(quality)
        if len(perf) > MAX_WINDOWS_NOTES:
            raise LimitError(f"{len(perf)} notes, over the limit {MAX_WINDOWS_NOTES}")
        indices = self.model.encode(perf)[:, : level.stages].copy()
        gap, _, _ = self.model.decode(indices, perf.pitch)
        corrections = corrections_for(perf.onset, gap, level, self.model.window)
        return VqCodes(perf.pitch.astype(np.int64), indices, corrections, level)

    def rebuild(self, codes: VqCodes, pedals: dict | None = None) -> Performance:
        """The notes (and the pedals given) that codes stand for."""
        gap, duration, velocity = self.model.decode(codes.indices, codes.pitch)
        onset = onsets_ms(gap, codes.corrections, codes.level, self.model.window)
        return Performance(codes.pitch, onset / MS_PER_S, (onset + duration) / MS_PER_S, velocity, pedals or {})

    def compress(self, perf: Performance, quality: int | None = None, original_bytes: int | None = None,
                 level: int = ZSTD_LEVEL, max_error: int | None = None, *, name: str | None = None) -> Compressed:
        """As NoteCodec.compress, with a VQN1 payload."""
        name, quality = self._checked(perf, quality, max_error, name)
        codes = self.codes(perf, quality)
        payload = self.encode_payload(codes, perf)
        meta = MidiMeta(model=self.name, quality=quality, record=name, duration_s=round(perf.end, 3))
        f = MidiFile(MidiFile.header_for(meta, FS_MS, len(perf), self.model_id), payload, events=list(perf.meta))
        return self._stored(f, perf, name, level, original_bytes)

    def encode_payload(self, codes: VqCodes, perf: Performance) -> bytes:
        """The NOTE section payload (coding VQN1) of a performance's codes and pedals."""
        lv = codes.level
        s = lv.pedal_setting
        gaps, depth = notecoder.quantise_pedals(perf, s)
        empty = np.zeros(0, np.int64)
        pedal_sym = notecoder.Symbols(empty, empty, empty, empty, gaps, depth)
        pedal = b""
        if gaps:  # NC07 where its pedal coding pays
            pays = notecoder.pedal_coding_pays(pedal_sym, s, self.model.pedal_priors)
            pedal = notecoder.encode(pedal_sym, s, self.model.pedal_priors,
                                     notecoder.pedal_coded(notecoder.NOTE_CODING, pays))
        flat = codes.indices.transpose(1, 0, 2).reshape(1, lv.stages, codes.indices.shape[0] * self.model.frames)
        index = entropy.encode(flat,
                               self.model.index_prior[: lv.stages]) if len(codes.pitch) else b""
        notes = self._encode_notes(codes)
        head = _HEAD.pack(VQ_NOTE_CODING, lv.stages, lv.pedal_levels, lv.onset_bound_ms, lv.anchor_ms,
                          lv.pedal_grid_ms)
        return b"".join([head, _U32.pack(_codes_crc(codes)), _U32.pack(len(pedal)), pedal, _U32.pack(len(index)),
                         index, notes])

    def _plan(self, codes: VqCodes) -> list[tuple[np.ndarray, np.ndarray]]:
        """(symbols, weights) of the note stream in decoding order: the pitch part, then each correction with its
        escape bits."""
        from vqcodec.midi.coder import _Model

        pitch = codes.pitch
        has, hit, hit_ctx, coded, miss_ctx = pitch_streams(pitch)
        hit_w = _Model(self.model.priors["pitch_hit"]).rows(hit_ctx, hit)
        miss_w = _Model(self.model.priors["pitch_miss"]).rows(miss_ctx, pitch[coded])
        order = np.argsort(np.concatenate([has * 2, coded * 2 + 1]), kind="stable")
        weights = np.zeros((len(order), MIDI_MAX + 1))
        weights[: len(hit), :2] = hit_w
        weights[len(hit) :] = miss_w
        plan = [(np.concatenate([hit, pitch[coded]])[order].astype(np.int64), weights[order])]
        k = codes.corrections
        z = _zigzag(k)
        excess = z - CORRECTION_DIRECT
        lengths = notecoder.bit_lengths(np.maximum(excess, 0))
        if np.any(lengths >= CORRECTION_LENGTHS):
            raise LimitError("an onset correction too large to code")
        sym = np.where(z < CORRECTION_DIRECT, z, CORRECTION_DIRECT + lengths)
        rows = _Model(self.model.priors["correction"][self._quality_index(codes.level)]).rows(
            correction_contexts(k, self.model.window), sym)
        width = max(CORRECTION_SYMBOLS, 1 << notecoder.ESCAPE_CHUNK)
        symbols, out_w = [], []
        for i in range(len(k)):
            symbols.append(int(sym[i]))
            out_w.append(np.pad(rows[i], (0, width - CORRECTION_SYMBOLS))[None])
            if z[i] >= CORRECTION_DIRECT:
                low, uniform = notecoder.low_bits(int(excess[i]), int(lengths[i]))
                symbols += low
                out_w += uniform
        plan.append((np.array(symbols, np.int64), np.concatenate(out_w) if out_w else np.zeros((0, width))))
        return plan

    def _quality_index(self, level: VqLevel) -> int:
        return self.levels.index(level)

    def _encode_notes(self, codes: VqCodes) -> bytes:
        c = notecoder._family()
        family = c.stream.model.Categorical(perfect=False)
        ans = c.stream.stack.AnsCoder()
        for symbols, weights in reversed(self._plan(codes)):
            if len(symbols):
                ans.encode_reverse(symbols.astype(np.int32), family, weights)
        return ans.get_compressed().astype("<u4").tobytes()

    def decode_file(self, f: MidiFile, name: str = "<bytes>") -> Performance:
        """A parsed midi .vqc file of this model -> Performance (notes, pedals, meta events)."""
        h = self._check_model(f, name)
        codes, pedals = self.decode_payload(f.notes, h.n_samples, name)
        quality = self._quality_index(codes.level) + 1
        if (f.meta.quality, h.fs) != (quality, FS_MS):
            raise FormatError(f"{name}: the header promises quality {f.meta.quality} at {h.fs:g} Hz, and the notes "
                              f"are coded at quality {quality} ({FS_MS:g} Hz)")
        perf = self.rebuild(codes, pedals)
        if f.notes_digest is not None and midi_file.notes_digest(perf) != f.notes_digest:
            raise ChecksumError(f"{name}: the decoded notes do not match the file's digest of them (dNOT)")
        perf.meta = list(f.events)
        return perf

    def decode_payload(self, payload: bytes, n_notes: int, name: str) -> tuple[VqCodes, dict]:
        """A VQN1 payload -> (codes, pedals); FormatError, TruncatedError or ChecksumError when it is damaged."""
        if len(payload) < _HEAD.size + 2 * _U32.size:
            raise TruncatedError(f"{name}: NOTE section is {len(payload)} bytes, shorter than its header")
        coding, stages, pedal_levels, bound, anchor, pedal_grid = _HEAD.unpack_from(payload)
        if coding != VQ_NOTE_CODING:
            raise FormatError(f"{name}: NOTE coding {coding!r} is not {VQ_NOTE_CODING!r}, which model {self.name} "
                              "writes")
        level = VqLevel(stages, bound, anchor, pedal_levels, pedal_grid)
        if level not in self.levels:
            raise FormatError(f"{name}: VQ note level {level} is not a level of model {self.name}")
        if n_notes > MAX_WINDOWS_NOTES:
            raise LimitError(f"{name}: {n_notes} notes, over the limit {MAX_WINDOWS_NOTES}")
        pos = _HEAD.size
        (crc,) = _U32.unpack_from(payload, pos)
        pos += _U32.size
        parts = []
        for what in ("pedal", "index"):
            if len(payload) < pos + _U32.size:
                raise TruncatedError(f"{name}: NOTE section ends before its {what} stream")
            (size,) = _U32.unpack_from(payload, pos)
            pos += _U32.size
            if len(payload) < pos + size:
                raise TruncatedError(f"{name}: NOTE {what} stream of {size} bytes runs past the section")
            parts.append(payload[pos : pos + size])
            pos += size
        pedal_bytes, index_bytes = parts
        pedals: dict = {}
        if pedal_bytes:
            s, _ = notecoder.setting_of(pedal_bytes, name)
            if s != level.pedal_setting or pedal_bytes[:4] not in PEDAL_CODINGS:
                raise FormatError(f"{name}: the pedal stream's setting {s} is not the level's")
            sym, _ = notecoder.decode(pedal_bytes, 0, self.model.pedal_priors, name)
            pedals = notecoder.rebuild(sym, s).pedals
        nw = self.model.windows(n_notes)
        shape = (1, stages, nw * self.model.frames)
        if n_notes:
            flat, ok = entropy.decode(bytes(index_bytes), self.model.index_prior[:stages], shape)
            if not ok:
                raise ChecksumError(f"{name}: NOTE index stream does not decode to what was written")
            indices = flat.reshape(stages, nw, self.model.frames).transpose(1, 0, 2).copy()
        else:
            indices = np.zeros((0, stages, self.model.frames), np.uint16)
        pitch, corrections = self._decode_notes(payload[pos:], n_notes, level, name)
        codes = VqCodes(pitch, indices, corrections, level)
        if _codes_crc(codes) != crc:
            raise ChecksumError(f"{name}: NOTE stream does not decode to what was written (damaged, or another prior)")
        return codes, pedals

    def _decode_notes(self, words: bytes, n: int, level: VqLevel, name: str) -> tuple[np.ndarray, np.ndarray]:
        from vqcodec.midi.coder import _Model

        c = notecoder._family()
        if len(words) % 4:
            raise FormatError(f"{name}: NOTE stream is not whole 32-bit words")
        if not notecoder._plausible(n, len(words)):
            raise FormatError(f"{name}: NOTE stream of {len(words)} bytes cannot hold {n} notes")
        try:
            ans = c.stream.stack.AnsCoder(np.frombuffer(words, "<u4").astype(np.uint32))
        except ValueError:
            raise FormatError(f"{name}: NOTE stream is damaged") from None
        family = c.stream.model.Categorical(perfect=False)

        def one(weights: np.ndarray) -> int:
            return int(ans.decode(family, weights)[0])

        pitch = notecoder.decode_pitches(one, np.zeros(n, np.int64), self.model.priors, name)  # no chord flags
        width = max(CORRECTION_SYMBOLS, 1 << notecoder.ESCAPE_CHUNK)
        model = _Model(self.model.priors["correction"][self._quality_index(level)])
        row = np.zeros((1, width))
        corrections = np.zeros(n, np.int64)
        before = 0
        for i in range(n):
            ctx = int(i % self.model.window == 0) * 2 + int(before != 0)
            row[0, :CORRECTION_SYMBOLS] = model.weights(ctx)[0]
            sym = one(row)
            if sym >= CORRECTION_SYMBOLS:
                raise ChecksumError(f"{name}: NOTE stream does not decode to what was written (a correction)")
            model.update(ctx, sym)
            z = sym
            if sym >= CORRECTION_DIRECT:
                z = CORRECTION_DIRECT + notecoder.read_low_bits(one, sym - CORRECTION_DIRECT)
            before = corrections[i] = int(_unzigzag(np.array(z)))
        if not ans.is_empty():
            raise ChecksumError(f"{name}: NOTE stream does not decode to what was written (bytes left over)")
        return pitch, corrections


def _codes_crc(codes: VqCodes) -> int:
    parts = [codes.pitch, codes.indices.astype(np.int64).ravel(), codes.corrections]
    return zlib.crc32(b"".join(np.asarray(p, "<i8").tobytes() for p in parts))


def is_vq_bundle(manifest: dict) -> bool:
    return manifest.get("coder") == VQ_CODER


def load(model: str | Path, threads: int | None = None) -> VqNoteCodec:
    """A midi-vq bundle by name or path as a VqNoteCodec (NoteCodec.load gives the same for such a bundle)."""
    codec = NoteCodec.load(model, threads)
    if not isinstance(codec, VqNoteCodec):
        raise InputError(f"{model}: not a midi-vq model")
    return codec

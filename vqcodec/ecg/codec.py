"""Codec: a verified model bundle run with onnxruntime, between Signals and .vqc bytes.

This is the only module that knows both the model (ONNX sessions, codebooks) and the container
(vqcodec.container.format). Pipeline per channel: fill invalid samples -> resample to the model rate -> normalise
per block -> encoder -> residual VQ (numpy) -> indices; and back: codebook sums -> decoder ->
denormalise -> resample to the record rate -> round to the record's ADC grid -> restore NaN runs.
"""

from __future__ import annotations

import hashlib
import math
import struct
import warnings
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import TypeVar

import numpy as np
import onnxruntime as ort

from vqcodec.coding import entropy, residual
from vqcodec.container import format as vqc
from vqcodec.ecg import file as ecg_file
from vqcodec.ecg import stream
from vqcodec.ecg.conditioning import (
    fill_invalid,
    model_length,
    nan_runs,
    quantize_to_grid,
    resample,
)
from vqcodec.ecg.file import AuxInfo, AuxStream, EcgFile, EcgMeta
from vqcodec.ecg.framing import chunked, denormalize_blocks, n_blocks, normalize_blocks
from vqcodec.ecg.ratecontrol import cheapest_level, largest_bound
from vqcodec.ecg.search import ResidualSearch
from vqcodec.ecg.signal import AuxChannel, ChannelInfo, Signal
from vqcodec.errors import (
    BundleError,
    ChannelError,
    ChecksumError,
    FormatError,
    InputError,
    ModelMismatchError,
    ModelNotFoundError,
)
from vqcodec.metrics import Compressed, CompressedToTarget, Report
from vqcodec.models.bundle import MANIFEST, Bundle, find_by_id, installed_models, load_bundle
from vqcodec.models.runtime import session

ENCODE_CHUNK = 1 << 14
"""Samples per encoder call: bounds memory, and chunks this small keep the activations in cache (a 30-minute
2-lead record encodes in about 1.0 s instead of 1.7 s in chunks of 2^17, with training.cpu_graph's graphs)."""
ENCODE_MARGIN = 256
"""Context samples on each side of an encoder chunk, at least (the shipped models reach 193 samples, as
vqcodec.ecg.framing.reach measures; a bundle whose manifest states a larger `context` gets that)."""
DECODE_CHUNK = 2048
"""Frames per decoder call (small for the same reason)."""
MODEL_BATCH = 2
"""Channels per encoder or decoder run: a 12-lead record at 1 kHz would otherwise hold six times the activations of
a 2-lead one in onnxruntime's memory."""
DECODE_MARGIN = 64
"""Context frames on each side of a decoder chunk, at least (the shipped models reach 25 frames)."""
NEAREST_GRAPH = Path(__file__).resolve().parent / "nearest.onnx"
"""Distances and top-k in one small ONNX graph (training/nearest_graph.py writes it)."""
NORM_BLOCKS_PER_BLOCK = 10
"""Normalisation blocks per storage block: one zstd frame per 10 minutes at 360 Hz, since per-minute
frames cost 13 % more bytes (measured on val), while normalising per minute keeps PRDN low."""
_U32 = struct.Struct("<I")
MODEL_MIN_ERROR = 4
"""Smallest max error at which the residual layer codes around the model: below it, coding the samples alone
is smaller. Measured on the 4 val records, whole, with the model at its default level and the adaptive residual
coder (format 1.4): at E = 3 1.508 b/s alone vs 1.559 with the model; at E = 4 1.343 vs 1.331; at E = 5 1.233
vs 1.178. (With the static tables of format 1.1 the model paid from E = 3.)"""
PRDN_BOUND_SLOPE = 0.5
"""How `--max-prdn`'s search of the residual layer's max error E expects the worst lead's PRDN to grow, as
E**PRDN_BOUND_SLOPE, until two trials have measured it. Alone (E < MODEL_MIN_ERROR) the layer's error is spread
evenly and PRDN grows about as E; around the model it is mostly the model's own where that is within E, and on the
4 val records, whole, PRDN grew as E**0.2 to E**0.75 between E = 4 and 12. Searching those records' measured
curves for targets of 2-8.5 %, 0.5 took 2.8 trials on average (the check below MODEL_MIN_ERROR included; 0.25:
3.2, 1: 2.9), 6 at most."""
ECG_UNITS = ("V", "mV", "uV", "µV", "μV", "nV", "")
"""The channel units an ECG bundle takes when its manifest states no `accepts_units`: voltages, and none (a WFDB
channel without units is in mV). Compared without case or surrounding spaces."""
FINGERPRINT_TOL = 1e-2
"""Allowed |difference| of the decode fingerprint (normalised units; onnxruntime is not bit-exact)."""


@dataclass
class Codes:
    """The discrete code of a signal at the model rate.

    indices: [C, q, F] uint16; stats: [n_norm_blocks, C, 2] float32 (offset, scale) per normalisation
    block and channel;
    n_model: samples per channel at the model rate.
    """

    indices: np.ndarray
    stats: np.ndarray
    n_model: int

    @property
    def stages(self) -> int:
        return int(self.indices.shape[1])


@dataclass
class Latent:
    """What the encoder made of a signal before quantisation, so that several levels can share one encoder run.

    z: [C, D, F] float32; stats and n_model as in Codes.
    """

    z: np.ndarray
    stats: np.ndarray
    n_model: int


@dataclass
class Routes:
    """Which way each signal of a record goes: `main` the channels coded together (by the model when `use_model`,
    else by the residual layer alone), `aux` the others, each coded by the residual layer alone within `aux_error`
    ADC units (0: lossless)."""

    main: Signal
    aux: list[AuxChannel]
    use_model: bool
    aux_error: int


@dataclass
class SourceRoutes:
    """`Routes` of a record read in windows: `main` the channels coded together (a Source), `aux` the others, each read
    in windows."""

    main: stream.Source
    aux: list[stream.AuxSource]
    use_model: bool
    aux_error: int


@dataclass
class CodedAux:
    """A record's aux signals coded (section AUXB): what the header says of each, and each one's code."""

    info: list[AuxInfo] = field(default_factory=list)
    streams: list[AuxStream] = field(default_factory=list)


@dataclass
class _Prepared:
    """A checked signal ready to code: invalid samples filled, their runs, and the latent (None when the residual
    layer codes alone)."""

    signal: Signal
    filled: np.ndarray
    runs: np.ndarray
    latent: Latent | None
    aux: CodedAux = field(default_factory=CodedAux)  # the record's aux signals, coded (Codec.code_aux)


class Codec:
    """A loaded model: encode/decode arrays, compress/decompress Signals to .vqc bytes."""

    def __init__(self, bundle: Bundle, threads: int | None = None) -> None:
        self.bundle = bundle
        m = bundle.manifest
        self.fs = float(m["fs"])
        self.hop = int(m["hop"])
        self.stages = int(m["stages"])
        self.codes = int(m["codes"])
        self.norm_frames = int(m["block_frames"])  # the model was trained with this normalisation block
        self.block_frames = self.norm_frames * NORM_BLOCKS_PER_BLOCK
        self.default_quality = int(m["default_quality"])
        self.levels = {int(q): (int(v["stages"]), float(v.get("lambda", 0.0))) for q, v in m["qualities"].items()}
        # levels whose manifest entry names the index coding (prior) they use; the others use index_coding
        self.level_codings = {int(q): v["coding"] for q, v in m["qualities"].items() if "coding" in v}
        for q, coding in self.level_codings.items():
            if coding not in self.index_codings:
                raise BundleError(f"{bundle.path / MANIFEST}: quality {q} names index coding {coding!r}, which "
                                  "this bundle has no prior for")
        self.kind = str(m["kind"])
        self._context = m.get("context", {})  # measured by training.export; older bundles rely on the constants
        self._threads = threads  # for the encoder session, started on first use (_encoder)
        self._decoder = session(bundle.file("decoder.onnx"), threads)
        self._cb = bundle.codebooks
        self._cb_t = np.ascontiguousarray(self._cb.transpose(0, 2, 1))  # [S, D, K]: gathers latents as [D, F]
        self.search = ResidualSearch(self._cb, session(NEAREST_GRAPH, threads), self.block_frames)
        self._priors: dict[tuple[str, int], tuple[np.ndarray, np.ndarray]] = {}  # see _index_model

    @classmethod
    def load(cls, model: str | Path = "ecg", threads: int | None = None) -> Codec:
        """Load a bundle by name, alias or path (hashes verified) and start its sessions."""
        return cls(load_bundle(model), threads)

    @cached_property
    def _encoder(self) -> ort.InferenceSession:
        """The encoder's session, started on first use: only compression needs it (a decode-only bundle, an
        earlier model, has none: BundleError)."""
        return session(self.bundle.encoder, self._threads)

    @property
    def name(self) -> str:
        return self.bundle.name

    @property
    def model_id(self) -> str:
        return self.bundle.model_id

    @property
    def norm_samples(self) -> int:
        """Model-rate samples per normalisation block."""
        return self.norm_frames * self.hop

    @property
    def block_samples(self) -> int:
        """Model-rate samples per storage block."""
        return self.block_frames * self.hop

    @property
    def qualities(self) -> list[int]:
        """The quality levels this model offers, lowest rate first."""
        return sorted(self.levels)

    def check_quality(self, quality: int | None, name: str | None = None) -> int:
        """The quality to use (default when None); InputError (naming `name` if given) when the model has no such
        level."""
        try:
            q = self.default_quality if quality is None else int(quality)
        except (TypeError, ValueError):
            q = None
        if q not in self.levels:
            raise InputError(f"{name + ': ' if name else ''}--quality must be one of {self.qualities[0]}.."
                             f"{self.qualities[-1]}, got {quality!r}")
        return q

    @property
    def encode_margin(self) -> int:
        """Context samples each side of an encoder chunk: ENCODE_MARGIN, or the model's reach if larger, in
        whole hops (so chunk outputs stay aligned)."""
        need = max(ENCODE_MARGIN, int(self._context.get("encoder_samples", 0)))
        return -(-need // self.hop) * self.hop

    @property
    def decode_margin(self) -> int:
        """Context frames each side of a decoder chunk: DECODE_MARGIN, or the model's reach if larger."""
        return max(DECODE_MARGIN, int(self._context.get("decoder_frames", 0)))

    def _index_model(self, coding: str | None, stages: int) -> tuple[np.ndarray, np.ndarray] | None:
        """The prior Q [>= stages, K + 1, K] that `coding` uses for files with `stages` stages, and the bits
        [.., K + 1, K] of index k in context c under it (what the search weighs); None when the bundle has no
        such prior. Built on first use (compress searches, codes and decodes with the same one)."""
        if coding == entropy.CODING_ONE_PRIOR:
            counts, key = self.bundle.priors, (coding, 0)  # one prior whatever the stage count
        elif coding == entropy.CODING_PER_STAGES:
            counts, key = (self.bundle.stage_priors or {}).get(stages), (coding, stages)
        else:
            return None
        if counts is None:
            return None
        if key not in self._priors:
            q = entropy.prior_weights(counts)
            self._priors[key] = q, (-np.log2(q / q.sum(axis=2, keepdims=True))).astype(np.float32)
        return self._priors[key]

    @property
    def index_codings(self) -> list[str]:
        """The IDXC codings this bundle's priors allow, preferred last: one prior (priors.npy), one per stage
        count (stage_priors.npz)."""
        return ([entropy.CODING_ONE_PRIOR] if self.bundle.priors is not None else []) + (
            [entropy.CODING_PER_STAGES] if self.bundle.stage_priors else [])

    @property
    def index_coding(self) -> str | None:
        """The IDXC coding a level writes unless its manifest entry names another; None: zstd-packed indices."""
        return self.index_codings[-1] if self.index_codings else None

    def level_coding(self, quality: int) -> str | None:
        """The IDXC coding quality level `quality` writes (and its search prices indices under)."""
        return self.level_codings.get(quality, self.index_coding)

    # -- arrays at the model rate -------------------------------------------------------------
    def _latent(self, xn: np.ndarray) -> np.ndarray:
        """xn [C, N] normalised, N a multiple of hop -> latent [C, D, N / hop]."""
        run = self.encode_latent
        return chunked(run, xn[:, None, :].astype(np.float32), ENCODE_CHUNK, self.encode_margin, 1 / self.hop)

    def encode_latent(self, x: np.ndarray) -> np.ndarray:
        """The encoder on normalised samples [C, 1, n] -> latent [C, D, n / hop], MODEL_BATCH channels per run."""
        return _by_channels(lambda a: self._encoder.run(None, {"signal": a})[0], x)

    def decode_latent(self, z: np.ndarray) -> np.ndarray:
        """The decoder on latents [C, D, F] -> normalised samples [C, 1, F * hop], MODEL_BATCH channels per run."""
        return _by_channels(lambda a: self._decoder.run(None, {"latent": a})[0], z)

    def _quantize(self, z: np.ndarray, stages: int, lam: float, coding: str | None) -> np.ndarray:
        """The search (vqcodec.ecg.search) of z [D, F] with the first `stages` stages, pricing each index by its cost
        under `coding`'s prior (the unigram cost of each code when the bundle has none) -> indices uint16."""
        model = self._index_model(coding, stages) if lam else None
        return self.search.quantize(z, stages, lam, None if model is None else model[1],
                                    lambda: self.bundle.code_bits)

    def _synthesize(self, indices: np.ndarray) -> np.ndarray:
        """indices [C, q, F] -> normalised signal [C, F * hop] float32."""
        c, q, f = indices.shape
        z = np.zeros((c, self._cb.shape[2], f), dtype=np.float32)  # in the decoder's layout: no transposed copy
        for s in range(q):
            for ch in range(c):
                z[ch] += self._cb_t[s][:, indices[ch, s].astype(np.int64)]
        run = self.decode_latent
        return chunked(run, z, DECODE_CHUNK, self.decode_margin, self.hop)[:, 0, :]

    def encode(self, signal: Signal, quality: int | None = None) -> Codes:
        """Signal at any rate -> Codes at quality level `quality` (the default when None), as compress makes them:
        invalid samples filled, the record resampled to the model rate; the residual layer is not made."""
        q = self.check_quality(quality, getattr(signal, "record_name", None))
        latent = self._prepare(signal, None).latent
        assert latent is not None  # without a max error the model always codes
        return self.quantize(latent, q)

    def encode_model_rate(self, x: np.ndarray, quality: int | None = None) -> Codes:
        """Low level: x [N, C] physical units already at the model rate (self.fs), no NaN -> Codes."""
        return self.quantize(self.analyse(x), self.check_quality(quality))

    def analyse(self, x: np.ndarray) -> Latent:
        """x [N, C] physical units at the model rate, no NaN -> normalised per block and encoded."""
        n, c = x.shape
        frames = -(-n // self.hop)
        nb = n_blocks(frames, self.norm_frames)
        stats = np.zeros((nb, c, 2), dtype=np.float32)
        xn = np.zeros((c, frames * self.hop), dtype=np.float32)
        for ch in range(c):
            xn[ch, :n], stats[:, ch, :] = normalize_blocks(x[:, ch], self.norm_samples)
            if n < frames * self.hop:
                xn[ch, n:] = xn[ch, n - 1]
        z = self._latent(xn) if frames else np.zeros((c, self._cb.shape[2], 0), dtype=np.float32)
        return Latent(z, stats, n)

    def quantize(self, latent: Latent, quality: int) -> Codes:
        """Latent -> Codes at quality level `quality` (stages and search weight)."""
        stages, lam = self.levels[quality]
        c, _, frames = latent.z.shape
        if frames == 0:
            return Codes(np.zeros((c, stages, 0), dtype=np.uint16), latent.stats, latent.n_model)
        coding, bf = self.level_coding(quality), self.block_frames
        indices = np.concatenate([  # storage block by storage block, as vqcodec.ecg.stream searches a long record
            np.stack([self._quantize(latent.z[ch][:, b * bf : (b + 1) * bf], stages, lam, coding) for ch in range(c)])
            for b in range(n_blocks(frames, bf))], axis=2)
        return Codes(indices, latent.stats, latent.n_model)

    def _no_codes(self, n: int, c: int) -> Codes:
        """The code of a file without a model layer (n model-rate samples, c channels): zero stages, unit
        normalisation, the usual frame count."""
        nb = n_blocks(-(-n // self.hop), self.norm_frames)
        stats = np.zeros((nb, c, 2), dtype=np.float32)
        stats[..., 1] = 1.0
        return Codes(np.zeros((c, 0, -(-n // self.hop)), dtype=np.uint16), stats, n)

    def decode_normalized(self, codes: Codes) -> np.ndarray:
        """Codes -> normalised reconstruction [C, n_model] float32 (what the fingerprint describes)."""
        c = codes.indices.shape[0]
        if codes.n_model == 0:
            return np.zeros((c, 0), dtype=np.float32)
        return self._synthesize(codes.indices)[:, : codes.n_model]

    def decode(self, codes: Codes, template: Signal) -> Signal:
        """Codes -> Signal at `template`'s rate and length, on its channels' ADC grid, NaN where the template is:
        `decode(encode(s, q), s)` gives what compress and decompress give at level q without a residual layer."""
        c = codes.indices.shape[0]
        if c != template.n_channels or model_length(template.n_samples, template.fs, self.fs) != codes.n_model:
            raise InputError(f"{template.record_name}: codes of {c} channel(s) and {codes.n_model} samples at "
                             f"{self.fs:g} Hz do not fit {template.n_channels} channel(s) of {template.n_samples} "
                             f"samples at {template.fs:g} Hz")
        y = self._model_output(self.decode_normalized(codes), codes, template)
        return self._finish(y, template, nan_runs(np.isnan(template.samples)))[0]

    def decode_model_rate(self, codes: Codes) -> np.ndarray:
        """Low level: Codes -> [N, C] physical units at the model rate (self.fs)."""
        yn = self.decode_normalized(codes)
        out = np.empty((codes.n_model, yn.shape[0]))
        for ch in range(yn.shape[0]):
            out[:, ch] = denormalize_blocks(yn[ch], codes.stats[:, ch, :], self.norm_samples)
        return out

    # -- Signals and files ---------------------------------------------------------------------
    def _fingerprint(self, yn: np.ndarray, block_frames: int) -> np.ndarray:
        """(mean, rms, max|y|) of the normalised reconstruction per storage block and channel, [B, C, 3]."""
        c, n = yn.shape
        nb = n_blocks(-(-n // self.hop), block_frames)
        step = block_frames * self.hop
        fp = np.zeros((nb, c, 3), dtype=np.float32)
        for b in range(nb):
            seg = yn[:, b * step : (b + 1) * step].astype(np.float64)
            if seg.shape[1]:
                fp[b] = stream.block_fingerprint(seg)
        return fp

    def _model_output(self, yn: np.ndarray, codes: Codes, template: Signal) -> np.ndarray:
        """Normalised model-rate reconstruction -> physical values [T, C] at the record's rate (off-grid)."""
        y = np.empty((codes.n_model, yn.shape[0]))
        for ch in range(yn.shape[0]):
            y[:, ch] = denormalize_blocks(yn[ch], codes.stats[:, ch, :], self.norm_samples)
        return resample(y, self.fs, template.fs, template.n_samples)

    @staticmethod
    def _finish(y: np.ndarray, template: Signal, runs: np.ndarray) -> tuple[Signal, int]:
        """Physical values -> Signal on the record's grid, with NaN runs restored."""
        y, clipped = quantize_to_grid(y, template.channels)
        for ch, start, length in runs:
            y[start : start + length, ch] = np.nan
        out = Signal(y, template.fs, template.channels, template.record_name, list(template.comments),
                     template.base_time, template.base_date)
        return out, clipped

    def compress(
        self, signal: Signal, quality: int | None = None, original_bytes: int | None = None,
        level: int = vqc.ZSTD_LEVEL, max_error: int | None = None, *, name: str | None = None,
    ) -> Compressed:
        """Signal -> Compressed(.vqc bytes, Report of what the round trip lost, measured by decoding).

        max_error E (ADC units): every sample within E of the record's ADC value (0: lossless), by the
        residual layer. From E = MODEL_MIN_ERROR up it codes what the model (at `quality`) missed; below,
        the model does not pay for its bits and the layer codes alone. A channel whose units the model does not
        take (`accepts_units`), and the signal's own aux signals (other rates), are coded by the layer alone as aux
        signals (section AUXS; `route` says which way each goes), within E or lossless. original_bytes: the input's
        size, for the report's file CR; level: zstd level of the compressed sections; name: the record name stored
        and used in messages (default: the signal's).
        """
        if name is not None and isinstance(signal, Signal):
            signal = replace(signal, record_name=name)
        q = self.check_quality(quality, getattr(signal, "record_name", None))
        routes = self.route(signal, max_error)
        main_error = max_error if routes.use_model or max_error is not None else 0  # no model: lossless by default
        prepared = replace(self._prepare(routes.main, main_error, routes.use_model), aux=self.code_aux(routes))
        return Compressed(*self._compress(prepared, q, original_bytes, level, main_error))

    def route(self, signal: Signal, max_error: int | None) -> Routes:
        """Which way each of a record's signals goes. Where the model codes (no max error, or one from
        MODEL_MIN_ERROR up), the channels whose units it does not take (`accepts_units`) leave the main group for
        the aux signals; the record's own aux signals (other rates) are aux too. When no channel is left for the
        model, the main group is the aux signals at the rate of the first of them, coded without the model. Aux
        signals keep max_error, lossless when it is None."""
        if not isinstance(signal, Signal):
            raise InputError(f"{getattr(signal, 'record_name', type(signal).__name__)}: model {self.name} codes "
                             f"Signals, not {type(signal).__name__}")
        aux_error = 0 if max_error is None else max_error
        aux, main = list(signal.aux), signal.without_aux()
        use_model, fits = self._model_takes(main.channels, max_error)
        if use_model and not all(fits):
            positions = signal.positions()
            aux += [AuxChannel(positions[c], main.fs, main.channels[c], main.samples[:, c])
                    for c in range(main.n_channels) if not fits[c]]
            main = main.select([c for c in range(main.n_channels) if fits[c]])
        if not main.n_channels and aux:  # nothing for the model: the first aux signal's rate group codes alone
            group, aux = _first_rate_group(aux)
            samples = np.stack([a.samples for a in group], axis=1).astype(np.float64)
            main = Signal(samples, group[0].fs, [a.channel for a in group], signal.record_name, list(signal.comments),
                          signal.base_time, signal.base_date)
            use_model = False
        main.aux = sorted(aux, key=lambda a: a.position)
        return Routes(main, main.aux, use_model, aux_error)

    def code_aux(self, routes: Routes) -> CodedAux:
        """Each aux signal coded by the residual layer alone within routes.aux_error, aux block by aux block (section
        AUXB; invalid samples as runs), as `compress_source` codes them."""
        for a in routes.aux:
            if a.samples.ndim != 1:
                raise InputError(f"{routes.main.record_name}: aux signal {a.channel.name} needs samples [n]")
        return self._code_aux_sources(routes.main.record_name, routes.main, routes.aux_error, [
            stream.AuxSource(a.position, a.fs, a.channel, a.n_samples, stream.array_reader(a.samples))
            for a in routes.aux])

    @staticmethod
    def _code_aux_sources(name: str, record: Signal | stream.Source, max_error: int,
                          aux: Sequence[stream.AuxSource]) -> CodedAux:
        """Aux signals read in windows, each coded aux block by aux block (stream.encode_aux) within max_error."""
        check_max_error(max_error, record)
        out = CodedAux()
        for a in aux:
            if not (math.isfinite(a.channel.gain) and a.channel.gain > 0):
                raise InputError(f"{name}: aux signal {a.channel.name} needs an ADC gain > 0")
            if not (math.isfinite(a.fs) and 0 < a.fs <= vqc.MAX_FS):
                raise InputError(f"{name}: aux signal {a.channel.name} needs a rate in (0, {vqc.MAX_FS:g}] Hz")
            out.info.append(AuxInfo(a.position, float(a.fs), a.n_samples, a.channel, max_error))
            out.streams.append(stream.encode_aux(a, max_error, ecg_file.AUX_BLOCK_SAMPLES, name))
        return out

    def aux_readers(self, f: EcgFile, name: str = "<bytes>", strict: bool = False) -> list[stream.AuxReader]:
        """A reader of each of a parsed file's aux signals (in the header's order), by sample ranges at its own
        rate, decoding only the aux blocks the reads reach (a file with AUXS: the whole signal). An aux block lost
        to salvage reads as invalid samples, or with `strict` as a ChecksumError naming it."""
        meta = f.meta
        return [stream.AuxReader(info, coded, meta.aux_block, name,
                                 {b: why for (j, b), why in f.lost_aux_blocks.items() if j == i}, strict)
                for i, (info, coded) in enumerate(zip(meta.aux, f.aux))]

    def decode_aux(self, f: EcgFile, signal: Signal, name: str = "<bytes>") -> Signal:
        """A decoded main group with the file's aux signals put back: those at its rate and length among its
        channels, in their positions, the others in its `aux`."""
        meta = f.meta
        if not meta.aux:
            return signal
        aux = [AuxChannel(r.info.position, r.info.fs, r.info.channel, r.read(0, r.info.n_samples))
               for r in self.aux_readers(f, name)]
        return merge_aux(signal, aux)

    def compress_source(self, source: stream.Source, quality: int | None = None, original_bytes: int | None = None,
                        level: int = vqc.ZSTD_LEVEL, *, window: int | None = None,
                        progress: stream.Progress | None = None, max_error: int | None = None,
                        aux: Sequence[stream.AuxSource] = ()) -> Compressed:
        """A record read in windows (vqcodec.ecg.stream.Source) -> Compressed, at quality level `quality`, holding
        about `window` model-rate frames at a time (default: stream.WINDOW_VALUES values) whatever the record's
        length: the same bytes and Report as `compress` gives for the whole record in memory. The record is read
        twice, once to encode and once to measure what the decode lost; with `max_error` the residual layer is coded
        in the second pass, residual block by residual block, around the model's output (from MODEL_MIN_ERROR up,
        as `compress` chooses) or alone. The channels the model does not take (where it codes) and the record's own
        aux signals `aux` (each at its own rate, read in windows) are coded without it, aux block by aux block, as
        `compress` routes and codes them (`route_source`)."""
        q = self.check_quality(quality, source.record_name)
        routes = self.route_source(source, aux, max_error)
        coded = self._code_aux_sources(source.record_name, source, routes.aux_error, routes.aux)
        main_error = max_error if routes.use_model or max_error is not None else 0  # no model: lossless by default
        return self._compress_main_source(routes.main, q, original_bytes, level, window, progress, main_error,
                                          routes.use_model, coded)

    def _model_takes(self, channels: Sequence[ChannelInfo], max_error: int | None) -> tuple[bool, list[bool]]:
        """Whether the model codes a record's channels (no max error, or one from MODEL_MIN_ERROR up, and some
        channel in units it takes, or no channel at all), and which of them it takes."""
        fits = [str(ch.units or "").strip().lower() in self.accepts_units for ch in channels]
        use_model = (max_error is None or max_error >= MODEL_MIN_ERROR) and (not fits or any(fits))
        return use_model, fits

    def route_source(self, source: stream.Source, aux: Sequence[stream.AuxSource], max_error: int | None,
                     ) -> SourceRoutes:
        """`route` of a record read in windows: its channels (`source`) and its own aux signals (`aux`, each at its
        own rate). Where the model codes, the channels whose units it does not take leave the main group for the aux
        signals (read as columns of the source); when no channel is left, the main group is the aux signals at the
        rate of the first of them, coded without the model."""
        aux_error = 0 if max_error is None else max_error
        aux, main = list(aux), source
        use_model, fits = self._model_takes(source.channels, max_error)
        if use_model and not all(fits):
            positions = channel_positions(len(source.channels), [a.position for a in aux])
            aux += [stream.AuxSource(positions[c], source.fs, source.channels[c], source.n_samples,
                                     stream.column_reader(source, c))
                    for c in range(len(source.channels)) if not fits[c]]
            main = stream.Selected(source, [c for c in range(len(source.channels)) if fits[c]])
        if not source.channels and aux:  # nothing for the model: the first aux signal's rate group codes alone
            group, aux = _first_rate_group(aux)
            main = stream.Stacked(group, source.record_name, list(source.comments), source.base_time,
                                  source.base_date)
            use_model = False
        return SourceRoutes(main, sorted(aux, key=lambda a: a.position), use_model, aux_error)

    def _compress_main_source(self, source: stream.Source, q: int, original_bytes: int | None, level: int,
                              window: int | None, progress: stream.Progress | None, max_error: int | None,
                              use_model: bool, aux: CodedAux) -> Compressed:
        """compress_source of the main group, its aux signals coded already."""
        name = source.record_name
        self._check_record(name, source.channels, source.n_samples)
        if max_error is not None:
            check_max_error(max_error, source)
        if not use_model:
            assert max_error is not None
            return self._compress_residual_source(source, original_bytes, level, max_error, progress, aux)
        self.check_channels(source)
        half = (lambda f: progress(f / 2)) if progress is not None else None  # noqa: E731
        enc = stream.encode(self, source, q, window, half)
        n_frames = -(-enc.n_model // self.hop)
        prior = self._index_model(enc.coding, enc.stages) if enc.coding else None

        def block(b: int) -> np.ndarray:
            shape = (len(source.channels), enc.stages, min(self.block_frames, n_frames - b * self.block_frames))
            return self._decode_block(enc.blocks[b], shape, b, name, prior[0]) if prior is not None else enc.blocks[b]

        indices = stream.BlockIndices(block, self.block_frames)
        output = stream.ModelOutput(self, indices.frames, enc.stats, enc.n_model, n_frames, self.block_frames)
        rest = (lambda f: progress(0.5 + f / 2)) if progress is not None else None  # noqa: E731
        codes = Codes(np.zeros((len(source.channels), enc.stages, 0), np.uint16), enc.stats, enc.n_model)
        coded = None
        if max_error is None:
            windows = stream.decoded_windows(output, source.fs, source.n_samples, source.channels,
                                             np.zeros((0, 3), np.int64), window)
            sums, runs = stream.measure(source, windows, rest)
        else:
            coded = stream.ResidualBlocks()
            record = stream.Resampled(output.read, enc.n_model, self.fs, source.fs, source.n_samples)
            sums, runs = stream.measure(source, self._residual_windows(source, record.read, max_error, coded), rest)
            output.finish()
        fingerprint = np.stack(output.fingerprints).astype(np.float32)
        return Compressed(*self._write(source, codes, q, sums, fingerprint, original_bytes, level, max_error,
                                       runs=runs, blocks=enc.blocks, aux=aux, resb=coded))

    @staticmethod
    def _residual_windows(source: stream.Source, prediction: stream.Reader | None, max_error: int,
                          coded: stream.ResidualBlocks) -> Iterator[tuple[int, np.ndarray, int]]:
        """The residual layer of a source, block by block (stream.encode_residual), its invalid samples filled as
        `compress` fills them."""
        filled = stream.Filled(source)
        return stream.encode_residual(filled.read, lambda a, z: np.isnan(source.read(a, z)), prediction,
                                      source.n_samples, source.channels, max_error,
                                      ecg_file.RESIDUAL_BLOCK_SAMPLES, coded)

    def _compress_residual_source(self, source: stream.Source, original_bytes: int | None, level: int,
                                  max_error: int, progress: stream.Progress | None, aux: CodedAux) -> Compressed:
        """compress_source without a model layer: the residual layer alone, in one pass."""
        coded = stream.ResidualBlocks()
        sums, runs = stream.measure(source, self._residual_windows(source, None, max_error, coded), progress)
        codes = self._no_codes(model_length(source.n_samples, source.fs, self.fs), len(source.channels))
        return Compressed(*self._write(source, codes, 0, sums, None, original_bytes, level, max_error, runs=runs,
                                       aux=aux, resb=coded))

    def _check_record(self, name: str, channels: list, n_samples: int) -> None:
        """What a record needs before coding: channels, each with an ADC gain, no more than the format holds."""
        if not channels:
            raise InputError(f"{name}: nothing to compress (no channels)")
        if not all(math.isfinite(ch.gain) and ch.gain > 0 for ch in channels):
            raise InputError(f"{name}: every channel needs an ADC gain > 0 (the decoded record is "
                             "rounded to its ADC grid)")
        if len(channels) > vqc.DEFAULT_LIMITS.max_channels:
            raise InputError(f"{name}: {len(channels)} channels exceed the format's limit "
                             f"{vqc.DEFAULT_LIMITS.max_channels} (are the samples [C, T] instead of [T, C]?)")
        if 0 < n_samples < len(channels):  # catalog #26: an array passed as [C, T] instead of [T, C]
            warnings.warn(f"{name}: {n_samples} samples < {len(channels)} channels; "
                          "are the samples [C, T] instead of [T, C]?", stacklevel=5)

    @property
    def accepts_units(self) -> frozenset[str]:
        """The channel units (lower case) this model takes: its manifest's `accepts_units`, else ECG_UNITS."""
        units = self.bundle.manifest.get("accepts_units", ECG_UNITS)
        if not (isinstance(units, list | tuple) and all(isinstance(u, str) for u in units)):
            raise BundleError(f"{self.bundle.path / MANIFEST}: accepts_units must be a list of unit names")
        return frozenset(u.strip().lower() for u in units)

    def check_channels(self, signal: Signal | stream.Source) -> None:
        """ChannelError naming the record and each channel whose units this model does not take."""
        takes = self.accepts_units
        fits = [str(ch.units or "").strip().lower() in takes for ch in signal.channels]
        refused = [f"{ch.name} ({ch.units})" for ch, ok in zip(signal.channels, fits) if not ok]
        if refused:
            fit = [ch.name for ch, ok in zip(signal.channels, fits) if ok]
            units = ", ".join(u.strip() or "none" for u in self.bundle.manifest.get("accepts_units", ECG_UNITS))
            keep = f"keep only {', '.join(fit)}, or " if fit else ""
            raise ChannelError(f"{signal.record_name}: model {self.name} does not take channel(s) "
                               f"{', '.join(refused)} (its units: {units}); {keep}code without the model "
                               f"(max_error below {MODEL_MIN_ERROR}, or 0 for lossless)", refused, fit)

    def _prepare(self, signal: Signal, max_error: int | None, use_model: bool | None = None) -> _Prepared:
        """Check the signal, fill its invalid samples and, unless the residual layer codes alone, encode it."""
        if not isinstance(signal, Signal):
            raise InputError(f"{getattr(signal, 'record_name', type(signal).__name__)}: model {self.name} codes "
                             f"Signals, not {type(signal).__name__}")
        if max_error is not None:
            check_max_error(max_error, signal)
        self._check_record(signal.record_name, signal.channels, signal.n_samples)
        if np.isinf(signal.samples).any():
            raise InputError(f"{signal.record_name}: samples contain inf")
        runs = nan_runs(np.isnan(signal.samples))
        filled = np.stack([fill_invalid(signal.samples[:, c]) for c in range(signal.n_channels)], axis=1)
        if use_model is None:
            use_model = max_error is None or max_error >= MODEL_MIN_ERROR
        if use_model:
            self.check_channels(signal)
        latent = self.analyse(resample(filled, signal.fs, self.fs)) if use_model else None
        return _Prepared(signal, filled, runs, latent)

    def _compress(self, prepared: _Prepared, q: int, original_bytes: int | None, level: int,
                  max_error: int | None) -> tuple[bytes, Report]:
        """compress, from a prepared signal at quality level q."""
        signal, filled, runs = prepared.signal, prepared.filled, prepared.runs
        use_model = prepared.latent is not None
        codes = (self.quantize(prepared.latent, q) if prepared.latent is not None  # (spelt out for mypy)
                 else self._no_codes(model_length(signal.n_samples, signal.fs, self.fs), signal.n_channels))
        yn = self.decode_normalized(codes) if use_model else None
        y = self._model_output(yn, codes, signal) if yn is not None else None
        fingerprint = self._fingerprint(yn, self.block_frames) if yn is not None else None
        source = stream.SignalSource(signal)
        # the report's n_bytes is set once the file exists; distortion does not depend on it. The sums are those a
        # long record's windows add up (vqcodec.ecg.stream), so both ways give one file.
        if max_error is not None:  # block by block, as compress_source codes it
            coded = stream.ResidualBlocks()
            prediction = None if y is None else (lambda a, z: y[a:z])  # noqa: E731
            windows = stream.encode_residual(lambda a, z: filled[a:z], lambda a, z: np.isnan(signal.samples[a:z]),
                                             prediction, signal.n_samples, signal.channels, max_error,
                                             ecg_file.RESIDUAL_BLOCK_SAMPLES, coded)
            sums, _ = stream.measure(source, windows)
            return self._write(signal, codes, q if use_model else 0, sums, fingerprint, original_bytes, level,
                               max_error, runs=runs, aux=prepared.aux, resb=coded)
        assert y is not None  # without a residual layer, the model codes
        decoded, clipped = self._finish(y, signal, runs)
        sums, _ = stream.measure(source, iter([(0, decoded.samples, clipped)]))
        return self._write(signal, codes, q if use_model else 0, sums, fingerprint, original_bytes, level, max_error,
                           runs=runs, aux=prepared.aux)

    def _write(self, signal: Signal | stream.Source, codes: Codes, quality: int, sums: stream.RunningDistortion,
               fingerprint: np.ndarray | None, original_bytes: int | None, level: int, max_error: int | None,
               runs: np.ndarray | None = None, blocks: list | None = None, aux: CodedAux | None = None,
               resb: stream.ResidualBlocks | None = None) -> tuple[bytes, Report]:
        """The .vqc bytes of a coded record and the Report of what it lost (from the distortion sums)."""
        q, clipped = quality, sums.clipped
        aux = aux or CodedAux()
        if runs is None:
            runs = nan_runs(np.isnan(signal.samples)) if isinstance(signal, Signal) else np.zeros((0, 3), np.int64)
        adc_bits = max((c.resolution for c in signal.channels), default=16)
        report = Report(0, signal.n_samples, len(signal.channels), signal.fs, adc_bits, original_bytes,
                        sums.channel_reports(signal.channels),
                        sum(a.n_samples for a in aux.info))
        meta = EcgMeta(
            model=self.name, model_fs=self.fs, quality=q, n_model=codes.n_model,
            record=signal.record_name, channels=list(signal.channels), comments=list(signal.comments),
            base_time=signal.base_time, base_date=signal.base_date,
            original_bytes=original_bytes,
            norm_frames=self.norm_frames, max_error=max_error,
            aux=list(aux.info), residual_block=None if resb is None else ecg_file.RESIDUAL_BLOCK_SAMPLES,
            aux_block=ecg_file.AUX_BLOCK_SAMPLES if aux.info else None,
        )
        header = vqc.Header(
            kind=self.kind, fs=float(signal.fs), n_channels=len(signal.channels), n_samples=signal.n_samples,
            n_frames=-(-codes.n_model // self.hop), hop=self.hop, block_frames=self.block_frames,
            n_stages=codes.stages, codebook_size=self.codes, model_sha256=self.model_id, meta=meta.to_json(),
        )
        bf = self.block_frames
        coding = self.level_coding(q) if codes.stages else None
        if blocks is None:
            blocks = [codes.indices[:, :, b * bf : (b + 1) * bf] for b in range(n_blocks(codes.indices.shape[2], bf))]
            model = self._index_model(coding, codes.stages) if coding else None
            if model is not None:
                blocks = [self._code_block(np.ascontiguousarray(b), model[0]) for b in blocks]
        metrics = {
            "clipped": clipped,
            "channels": [vars(c) for c in report.channels],
        }
        f = EcgFile(header, blocks, codes.stats, runs, fingerprint, metrics, index_coding=coding,
                    signal_digest=None if resb is None else resb.digest(), aux=list(aux.streams),
                    residual_blocks=None if resb is None else resb.payloads)
        try:
            data = ecg_file.dumps(f, level=level)
        except ValueError as e:  # what the format cannot hold, e.g. more NaN runs than its limit
            raise InputError(f"{signal.record_name}: cannot be stored: {e}") from e
        report.n_bytes = len(data)
        return data, report

    def file_indices(self, f: EcgFile, name: str = "<bytes>", which: range | None = None) -> np.ndarray:
        """The code indices of a parsed file's storage blocks `which` (default: all) as [C, S, frames],
        entropy-decoded when the file codes them (a block lost to salvage gives zeros)."""
        h = f.header
        which = range(len(f.blocks)) if which is None else which
        blocks = [f.blocks[b] for b in which]
        if f.index_coding is not None:
            model = self._index_model(f.index_coding, h.n_stages)
            if model is None:
                raise ModelMismatchError(f"{name}: indices coded with {f.index_coding!r}, which model {self.name} "
                                         "cannot decode")
            blocks = [np.zeros((h.n_channels, h.n_stages, h.block_length(b)), np.uint16) if b in f.lost_blocks
                      else self._decode_block(f.blocks[b], (h.n_channels, h.n_stages, h.block_length(b)), b, name,
                                              model[0])
                      for b in which]
        return np.concatenate(blocks, axis=2) if blocks else np.zeros((h.n_channels, h.n_stages, 0), np.uint16)

    @staticmethod
    def _code_block(codes: np.ndarray, q: np.ndarray) -> bytes:
        """One block's indices [C, S, F] -> CRC-32 of the indices, then their rANS words under prior q
        (vqcodec.coding.entropy)."""
        return _U32.pack(zlib.crc32(codes.astype("<u2").tobytes())) + entropy.encode(codes, q)

    @staticmethod
    def _decode_block(data: bytes, shape: tuple[int, int, int], b: int, name: str, q: np.ndarray) -> np.ndarray:
        """The inverse of _code_block; ChecksumError unless the stream ends exactly and the CRC matches."""
        codes, ended = entropy.decode(data[_U32.size :], q, shape) if len(data) >= _U32.size \
            else (None, False)
        if codes is None or not ended or _U32.unpack(data[: _U32.size])[0] != zlib.crc32(codes.astype("<u2").tobytes()):
            raise ChecksumError(f"{name}: block {b}: coded indices do not decode to what was encoded (damaged file "
                                "or a different index prior)")
        return codes

    def compress_to_prdn(self, signal: Signal, max_prdn: float, original_bytes: int | None = None,
                         ) -> CompressedToTarget:
        """The cheapest setting whose measured PRDN is at most max_prdn (%) on every channel of this record (the
        worst channel's; a channel whose PRDN is undefined, a flat one, does not count): a quality level, or, where
        the ladder's answer is its top level (met or missed), the residual layer's largest max error that meets it
        (with the model from MODEL_MIN_ERROR up) when that is smaller; lossless when nothing else meets it.

        Every trial is a real compress and decode of the whole record, the encoder run once for all of them;
        vqcodec.ecg.ratecontrol picks the ladder's trials from its val PRDN (usually 2-3) and the max errors' from
        what the trials measured. Returns CompressedToTarget(data, report, setting), the setting as text ("quality
        6", "max error 7", "lossless": the file `--max-error 7` writes, at the default level); report.worst_channel
        names the channel that came closest to the target. The choice is per record: every block uses the same
        setting. `compress_source_to_prdn` makes the same choice and file from a record read in windows.
        """
        _check_prdn(max_prdn, signal)
        routes = self.route(signal, None)  # aux signals lossless, whatever the setting of the others
        aux = self.code_aux(routes)
        if not routes.use_model:  # no channel for the model: lossless meets any target
            alone = replace(self._prepare(routes.main, 0, False), aux=aux)
            return CompressedToTarget(*self._compress(alone, self.default_quality, original_bytes, vqc.ZSTD_LEVEL, 0),
                                      "lossless")
        prepared = replace(self._prepare(routes.main, None), aux=aux)
        alone = replace(prepared, latent=None)

        def trial(quality: int, max_error: int | None) -> tuple[bytes, Report]:
            coded = alone if max_error is not None and max_error < MODEL_MIN_ERROR else prepared
            return self._compress(coded, quality, original_bytes, vqc.ZSTD_LEVEL, max_error)

        return self._to_prdn(trial, max_prdn, lambda: stream.SignalSource(prepared.signal))

    def compress_source_to_prdn(self, source: stream.Source, max_prdn: float, original_bytes: int | None = None, *,
                                window: int | None = None, progress: stream.Progress | None = None,
                                aux: Sequence[stream.AuxSource] = ()) -> CompressedToTarget:
        """`compress_to_prdn` of a record read in windows (vqcodec.ecg.stream.Source), in memory that does not grow
        with the record: each trial is a `compress_source` (its distortion the running sums of its windows), so the
        encoder runs once per trial rather than once for all (its latent would grow with the record), and the
        residual layer's search starts from sums of the samples read in windows. The same trials, choice and bytes
        as `compress_to_prdn` of the whole record in memory. `progress` is told each trial's share done. The channels
        the model does not take and the record's aux signals `aux` are routed as `compress_to_prdn` routes them and
        coded once, lossless, whatever the setting of the others."""
        _check_prdn(max_prdn, source)
        routes = self.route_source(source, aux, None)  # aux signals lossless, whatever the setting of the others
        coded = self._code_aux_sources(source.record_name, source, 0, routes.aux)
        if not routes.use_model:  # no channel for the model: lossless meets any target
            data, report = self._compress_main_source(routes.main, self.default_quality, original_bytes,
                                                      vqc.ZSTD_LEVEL, window, progress, 0, False, coded)
            assert isinstance(report, Report)  # an ECG codec's
            return CompressedToTarget(data, report, "lossless")

        def trial(quality: int, max_error: int | None) -> tuple[bytes, Report]:
            use_model = max_error is None or max_error >= MODEL_MIN_ERROR
            data, report = self._compress_main_source(routes.main, quality, original_bytes, vqc.ZSTD_LEVEL, window,
                                                      progress, max_error, use_model, coded)
            assert isinstance(report, Report)  # an ECG codec's
            return data, report

        return self._to_prdn(trial, max_prdn, lambda: routes.main)

    def _to_prdn(self, trial: Callable[[int, int | None], tuple[bytes, Report]], max_prdn: float,
                 source: Callable[[], stream.Source]) -> CompressedToTarget:
        """The search of compress_to_prdn over `trial(quality, max_error)`, a real compress and decode at that
        setting (the file `--quality` or `--max-error` writes), of the record `source` gives (read only where the
        residual layer's search needs where to start). Only the smallest file that met the target so far is kept
        (the first of equals: the ladder's)."""
        levels = self.qualities
        best: list[CompressedToTarget] = []

        def keep(data: bytes, report: Report, setting: str) -> None:
            if not report.worst_prdn > max_prdn and (not best or len(data) < len(best[0].data)):
                best[:] = [CompressedToTarget(data, report, setting)]

        def measure(i: int) -> float:
            data, report = trial(levels[i], None)
            keep(data, report, f"quality {levels[i]}")
            return report.worst_prdn

        val_prdn = [self.bundle.manifest["qualities"][str(q)].get("val_prdn") for q in levels]
        i = cheapest_level(len(levels), measure, max_prdn, None if None in val_prdn else val_prdn)
        if i == len(levels) - 1:
            self._bounded_to_prdn(trial, max_prdn, source, keep, len(best[0].data) if best else math.inf)
        if not best:  # lossless meets any target
            return CompressedToTarget(*trial(self.default_quality, 0), "lossless")
        return best[0]

    def _bounded_to_prdn(self, trial: Callable[[int, int | None], tuple[bytes, Report]], max_prdn: float,
                         source: Callable[[], stream.Source], keep: Callable[[bytes, Report, str], None],
                         beat: float) -> None:
        """The residual layer's trials, each given to `keep`, in a search for the largest max error E that meets
        max_prdn on every channel (ratecontrol.largest_bound, from _bound_range's guess). The setting is what
        `--max-error E` writes: below MODEL_MIN_ERROR the layer codes alone, from it up around the model at the
        default level. beat: the bytes of a setting that met the target already; a bound that misses and is no
        smaller ends the search. The layer's bytes fall as E rises except at MODEL_MIN_ERROR, where the model's bits
        come in, so when the answer is above that step the largest bound below it is tried too."""
        tried: set[int] = set()

        def measure(e: int) -> tuple[float, float]:
            data, report = trial(self.default_quality, e)
            tried.add(e)
            keep(data, report, f"max error {e}")
            return report.worst_prdn, len(data)

        guess, cap = _bound_range(source(), max_prdn)
        if largest_bound(measure, max_prdn, guess, cap, beat, PRDN_BOUND_SLOPE) >= MODEL_MIN_ERROR \
                and MODEL_MIN_ERROR - 1 not in tried:
            measure(MODEL_MIN_ERROR - 1)

    def decompress(self, data: bytes | bytearray | memoryview, name: str | None = None, *,
                   limits: vqc.Limits = vqc.DEFAULT_LIMITS, start: int | None = None,
                   stop: int | None = None) -> Signal:
        """.vqc bytes -> Signal; the file must name this model (sha256, or one it lists as compatible). name: the
        file's name in error messages (default "<bytes>"); limits: caps on what the file may declare; start, stop:
        only samples [start, stop) (decode_range)."""
        name = "<bytes>" if name is None else name
        f = ecg_file.loads(_bytes(data, name), name, limits)
        if start is None and stop is None:
            return self.decode_file(f, name)
        return self.decode_range(f, 0 if start is None else start, f.header.n_samples if stop is None else stop, name)

    def decode_range(self, f: EcgFile, start: int, stop: int, name: str = "<bytes>") -> Signal:
        """Samples [start, stop) of a parsed file at the record's rate, decoding only the storage blocks and the
        decoder chunks they need, through the machinery the windowed decode runs (`stream.ModelOutput`, and
        `stream.Resampled` at another rate than the model's): the same chunks with the same context, and a resampler
        whose every output is the whole record's, so the samples are exactly those a whole decode gives there. A
        file with a residual layer in blocks (RESB) decodes only the residual blocks the range touches, exactly; one
        with a whole-record RESD is decoded whole and cut, its lanes running over the record; the stored fingerprint
        covers whole blocks and is not checked here. A lost (salvaged) block the range needs is a ChecksumError
        naming it. Aux signals in blocks (AUXB) decode only the aux blocks that overlap the same span of time, each
        at its own rate (as `_cut` cuts the whole decode); a file with AUXS is decoded whole and cut."""
        h = f.header
        if not (isinstance(start, int) and isinstance(stop, int) and 0 <= start <= stop <= h.n_samples):
            raise InputError(f"{name}: range {start}..{stop} is not within the record's {h.n_samples} samples")
        if f.residual is not None or any(a.blocks is None for a in f.aux) \
                or (h.n_stages == 0 and f.residual_blocks is None):
            whole = self.decode_file(f, name)
            return _cut(whole, start, stop)
        if f.residual_blocks is not None:
            part = self._residual_range(f, start, stop, name)
        else:
            part = self._model_range(f, start, stop, name)
        return self._aux_range(f, part, start, stop, name)

    def _aux_range(self, f: EcgFile, part: Signal, start: int, stop: int, name: str) -> Signal:
        """The main group's samples [start, stop) with the file's aux signals there put back, as `decode_aux` then
        `_cut` put them in a whole decode: those at the record's rate and length among the channels, the others cut
        to the same span of time at their own rates."""
        h, meta = f.header, f.meta
        if not meta.aux:
            return part
        placed = dict(zip(channel_positions(h.n_channels, [a.position for a in meta.aux]),
                          [(ch, part.samples[:, c]) for c, ch in enumerate(part.channels)]))
        rest = []
        for reader in self.aux_readers(f, name, strict=True):
            a = reader.info
            if a.fs == h.fs and a.n_samples == h.n_samples:
                placed[a.position] = (a.channel, reader.read(start, stop))
            else:
                a0, a1 = (min(a.n_samples, round(t * a.fs / h.fs)) for t in (start, stop))
                rest.append(AuxChannel(a.position, a.fs, a.channel, reader.read(a0, max(a0, a1))))
        order = sorted(placed)
        samples = np.stack([placed[p][1] for p in order], axis=1) if order else np.zeros((stop - start, 0))
        return Signal(samples, part.fs, [placed[p][0] for p in order], part.record_name, list(part.comments),
                      part.base_time, part.base_date, rest)

    def _model_range(self, f: EcgFile, start: int, stop: int, name: str) -> Signal:
        """decode_range of a file with a model layer alone."""
        h = f.header
        self._check_layout(f, name)
        template = signal_template(h, f.meta, name)
        model = self._model_reader(f, name, needed_by=f"samples {start}..{stop - 1}")
        assert model is not None  # a file with stages has a model layer
        y = model[1](start, stop) if stop > start else np.zeros((0, h.n_channels))
        part = Signal(np.zeros((stop - start, h.n_channels)), h.fs, template.channels, template.record_name,
                      list(template.comments), template.base_time, template.base_date)
        runs = f.nan_runs.copy()
        if len(runs):
            ends = np.minimum(runs[:, 1] + runs[:, 2], stop)
            runs[:, 1] = np.maximum(runs[:, 1], start) - start
            runs[:, 2] = ends - start - runs[:, 1]
            runs = runs[runs[:, 2] > 0]
        decoded, _ = self._finish(y, part, runs)
        return decoded

    def streams(self, f: EcgFile) -> bool:
        """Whether `decode_windows` decodes this file: a model layer alone or a residual layer in blocks (RESB),
        every block readable, nothing else damaged (a salvaged file is decoded whole, its damage warned of), its aux
        signals (if any) in blocks (AUXB)."""
        return (f.residual is None and (f.header.n_stages > 0 or f.residual_blocks is not None)
                and not f.lost_blocks and not f.damage and all(a.blocks is not None for a in f.aux))

    def _model_reader(self, f: EcgFile, name: str, needed_by: str | None = None,
                      ) -> tuple[stream.ModelOutput, stream.Reader] | None:
        """A file's decoded model layer, read by record-rate sample ranges before the grid (what the residual layer
        predicts from), decoder chunk by chunk; None without a model layer. needed_by: what the reads are for (a
        range of samples); a lost (salvaged) storage block they reach is then a ChecksumError saying so, rather than
        the zeros a salvaged whole decode gives it."""
        h, meta = f.header, f.meta
        if not h.n_stages:
            return None

        def block(b: int) -> np.ndarray:
            if needed_by is not None and b in f.lost_blocks:
                raise ChecksumError(f"{name}: block {b}, which {needed_by} need, is damaged ({f.lost_blocks[b]})")
            return self.file_indices(f, name, range(b, b + 1))

        indices = stream.BlockIndices(block, h.block_frames)
        output = stream.ModelOutput(self, indices.frames, f.norm, meta.n_model, h.n_frames, h.block_frames)
        return output, stream.Resampled(output.read, meta.n_model, self.fs, h.fs, h.n_samples).read

    def _residual_range(self, f: EcgFile, start: int, stop: int, name: str) -> Signal:
        """decode_range of a file with RESB: only the residual blocks [start, stop) falls in, and the model's
        output there. The digest (dSIG) and fingerprint cover the whole record and are not checked here."""
        h, meta = f.header, f.meta
        self._check_layout(f, name)
        template = signal_template(h, meta, name)
        block = meta.residual_block
        assert f.residual_blocks is not None and block is not None  # loads checked both
        model = self._model_reader(f, name)
        blocks = range(start // block, -(-stop // block)) if stop > start else range(0)
        parts = [y for _, y in stream.decode_residual(f.residual_blocks, h.n_samples, block,
                                                      None if model is None else model[1], template.channels,
                                                      f.nan_runs, name, blocks)]
        first = blocks.start * block
        y = np.concatenate(parts)[start - first : stop - first] if parts else np.zeros((0, h.n_channels))
        return Signal(y, h.fs, template.channels, template.record_name, list(template.comments),
                      template.base_time, template.base_date)

    def decode_windows(self, f: EcgFile, name: str = "<bytes>", window: int | None = None,
                       progress: stream.Progress | None = None) -> Iterator[np.ndarray]:
        """The samples of a parsed file (see `streams`) window by window, [k, C] physical with NaN runs, in order:
        the same samples as `decode_file`, holding a window at a time; each block's fingerprint is checked once the
        windows are done (ChecksumError). The aux signals at the record's rate and length are among the columns, in
        their positions (`record_template` names them), read aux block by aux block; those at other rates are not
        (`aux_readers` reads them)."""
        h, meta = f.header, f.meta
        same = [r for r in self.aux_readers(f, name) if (r.info.fs, r.info.n_samples) == (h.fs, h.n_samples)]
        if not same:
            yield from self._main_windows(f, name, window, progress)
            return
        order = sorted(channel_positions(h.n_channels, [a.position for a in meta.aux])
                       + [r.info.position for r in same])
        main_cols = [order.index(p) for p in channel_positions(h.n_channels, [a.position for a in meta.aux])]
        at = 0
        for y in self._main_windows(f, name, window, progress):
            out = np.empty((len(y), len(order)))
            out[:, main_cols] = y
            for r in same:
                out[:, order.index(r.info.position)] = r.read(at, at + len(y))
            at += len(y)
            yield out

    def _main_windows(self, f: EcgFile, name: str, window: int | None,
                      progress: stream.Progress | None) -> Iterator[np.ndarray]:
        """decode_windows of the main group alone."""
        h, meta = f.header, f.meta
        self._check_layout(f, name)
        template = signal_template(h, meta, name)
        if f.residual_blocks is not None:
            yield from self._residual_windows_decoded(f, name, template, progress)
            return
        indices = stream.BlockIndices(lambda b: self.file_indices(f, name, range(b, b + 1)), h.block_frames)
        output = stream.ModelOutput(self, indices.frames, f.norm, meta.n_model, h.n_frames, h.block_frames)
        for r0, y, _ in stream.decoded_windows(output, h.fs, h.n_samples, template.channels, f.nan_runs, window):
            yield y
            if progress is not None:
                progress((r0 + len(y)) / max(h.n_samples, 1))
        if output.fingerprints:
            self._check_fingerprint(np.stack(output.fingerprints), f, name)

    def _residual_windows_decoded(self, f: EcgFile, name: str, template: Signal,
                                  progress: stream.Progress | None) -> Iterator[np.ndarray]:
        """decode_windows of a file with RESB: residual block by residual block, then the digest (dSIG) of every
        decoded sample and the model layer's fingerprint checked (ChecksumError)."""
        h, meta = f.header, f.meta
        assert f.residual_blocks is not None and meta.residual_block is not None  # loads checked both
        model = self._model_reader(f, name)
        sha = hashlib.sha256()
        for r0, y in stream.decode_residual(f.residual_blocks, h.n_samples, meta.residual_block,
                                            None if model is None else model[1], template.channels, f.nan_runs,
                                            name, sha=sha):
            yield y
            if progress is not None:
                progress((r0 + len(y)) / max(h.n_samples, 1))
        stream.check_digest(sha, f.signal_digest, name)
        if model is not None:
            model[0].finish()
            if model[0].fingerprints:
                self._check_fingerprint(np.stack(model[0].fingerprints), f, name)

    def _check_fingerprint(self, got: np.ndarray, f: EcgFile, name: str) -> None:
        """ChecksumError when the decoded model layer's fingerprint [B, C, 3] disagrees with the file's."""
        if f.fingerprint is None:
            return
        kept = [b for b in range(len(got)) if b not in f.lost_blocks]  # salvage: lost blocks hold no codes
        if got.shape != f.fingerprint.shape or not np.allclose(got[kept], f.fingerprint[kept], atol=FINGERPRINT_TOL,
                                                                 rtol=FINGERPRINT_TOL):
            raise ChecksumError(f"{name}: reconstruction does not match the encoder's fingerprint "
                                "(wrong or damaged model, or a misbehaving runtime)")

    def _check_layout(self, f: EcgFile, name: str) -> None:
        """ModelMismatchError or FormatError when this model cannot decode the file's layout, before any decoding."""
        h, meta = f.header, f.meta
        if h.model_sha256 not in self.bundle.compatible_ids or h.kind != self.kind:
            raise ModelMismatchError(
                f"{name}: written by model {meta.model} ({h.kind}) sha256 {h.model_sha256}, "
                f"but the model given is {self.name} ({self.kind}) sha256 {self.model_id}"
            )
        level_stages = self.levels.get(meta.quality or 0, (-1, 0.0))[0]
        if h.model_sha256 == self.model_id and meta.quality and level_stages != h.n_stages:
            raise FormatError(f"{name}: the header's quality {meta.quality} is a level of {level_stages} stages in "
                              f"model {self.name}, and the file holds {h.n_stages}")
        if (h.n_stages > self.stages or h.codebook_size != self.codes or h.hop != self.hop
                or ecg_file.norm_frames(h) != self.norm_frames):
            raise ModelMismatchError(f"{name}: code layout does not fit model {self.name}")
        if meta.invalid == "n_model disagrees with n_frames" or -(-meta.n_model // self.hop) != h.n_frames:
            raise FormatError(f"{name}: n_model disagrees with n_frames")
        if model_length(h.n_samples, h.fs, self.fs) != meta.n_model:  # else a forged length would stretch it
            raise FormatError(f"{name}: n_samples {h.n_samples} at {h.fs:g} Hz disagrees with n_model {meta.n_model}")

    def decode_file(self, f: EcgFile, name: str = "<bytes>", check: bool = True) -> Signal:
        """A parsed .vqc file -> Signal (for callers that already parsed it to find the model)."""
        h, meta = f.header, f.meta
        self._check_layout(f, name)
        indices = self.file_indices(f, name)
        n_model = meta.n_model
        codes = Codes(indices, f.norm, n_model)
        template = signal_template(h, meta, name)  # checked before the model runs
        y = p = None
        if h.n_stages:
            yn = self.decode_normalized(codes)
            if check:
                self._check_fingerprint(self._fingerprint(yn, h.block_frames), f, name)
            y = self._model_output(yn, codes, template)
            p = y * _gains(template) + _baselines(template)
        if f.has_residual and f.lost_blocks:
            warnings.warn(f"{name}: residual layer applied without its CRC check (blocks lost); the error "
                          "bound holds only outside the lost spans", stacklevel=2)
        if f.residual is not None:
            recon = residual.decode(f.residual, p, (template.n_samples, template.n_channels), name,
                                    verify=not f.lost_blocks)
            y = (recon - _baselines(template)) / _gains(template)
        if f.residual_blocks is not None:
            block = meta.residual_block
            assert block is not None  # loads checked it
            shape = (template.n_samples, template.n_channels)
            recon = np.concatenate([residual.decode(payload, None if p is None else p[a:z], (z - a, shape[1]),
                                                    f"{name}: residual block {b}", verify=not f.lost_blocks)
                                    for b, (payload, (a, z)) in enumerate(zip(
                                        f.residual_blocks, ecg_file.residual_block_spans(shape[0], block)))]
                                   or [np.zeros((0, shape[1]), np.int64)])
            y = (recon - _baselines(template)) / _gains(template)
        if y is None:
            raise FormatError(f"{name}: neither a model layer nor a residual layer")  # loads refuses such a file
        decoded, _ = self._finish(y, template, f.nan_runs)
        if check and f.signal_digest is not None and not f.lost_blocks \
                and ecg_file.signal_digest(_digital(decoded)) != f.signal_digest:
            raise ChecksumError(f"{name}: the decoded samples do not match the file's digest of them (dSIG): a "
                                "damaged file, or a misbehaving decoder")
        return self.decode_aux(f, decoded, name)


def _by_channels(run: Callable[[np.ndarray], np.ndarray], x: np.ndarray) -> np.ndarray:
    """run over x [C, ...] MODEL_BATCH channels at a time: the networks treat each channel alone, so the output is
    the same (bit for bit, checked) as one run over all of them, with the runtime's memory bounded whatever C."""
    parts = [run(np.ascontiguousarray(x[c : c + MODEL_BATCH])) for c in range(0, x.shape[0], MODEL_BATCH)]
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def _bytes(data: object, name: str) -> bytes | memoryview:
    """The bytes of a bytes-like argument (no copy of bytes or a memoryview), else InputError."""
    if isinstance(data, (bytes, memoryview)):
        return data
    if isinstance(data, bytearray):
        return bytes(data)
    raise InputError(f"{name}: expected .vqc bytes, got {type(data).__name__}")


def _cut(signal: Signal, start: int, stop: int) -> Signal:
    """Samples [start, stop) of a Signal; its aux signals at other rates cut to the same span of time."""
    aux = [replace(a, samples=a.samples[round(start * a.fs / signal.fs) : round(stop * a.fs / signal.fs)])
           for a in signal.aux]
    return Signal(signal.samples[start:stop], signal.fs, signal.channels, signal.record_name, signal.comments,
                  signal.base_time, signal.base_date, aux)


_Aux = TypeVar("_Aux", AuxChannel, stream.AuxSource)


def _first_rate_group(aux: list[_Aux]) -> tuple[list[_Aux], list[_Aux]]:
    """The aux signals at the rate and length of the first of them (by position), in position order, and the
    others: the main group of a record the model has no channel of."""
    first = min(aux, key=lambda a: a.position)
    group = sorted((a for a in aux if a.fs == first.fs and a.n_samples == first.n_samples), key=lambda a: a.position)
    return group, [a for a in aux if a not in group]


def channel_positions(n_channels: int, aux_positions: Sequence[int]) -> list[int]:
    """The positions among a record's signals of its n_channels channels: those its aux signals do not hold, in order
    (`Signal.positions`)."""
    taken = set(aux_positions)
    return [p for p in range(n_channels + len(taken)) if p not in taken][:n_channels]


def merge_aux(signal: Signal, aux: list[AuxChannel]) -> Signal:
    """`signal` with the aux signals at its rate and length back among its channels, in position order (the
    complement rule of `Signal.positions` holds before and after), the others in its `aux`."""
    aux = sorted(list(signal.aux) + list(aux), key=lambda a: a.position)
    same = [a for a in aux if a.fs == signal.fs and a.n_samples == signal.n_samples]
    rest = [a for a in aux if a not in same]
    placed = dict(zip(Signal(signal.samples, signal.fs, signal.channels, aux=aux).positions(),
                      [(ch, signal.samples[:, c]) for c, ch in enumerate(signal.channels)]))
    placed.update({a.position: (a.channel, a.samples) for a in same})
    order = sorted(placed)
    samples = (np.stack([placed[p][1] for p in order], axis=1) if order
               else np.zeros((signal.n_samples, 0)))
    return Signal(samples, signal.fs, [placed[p][0] for p in order], signal.record_name, list(signal.comments),
                  signal.base_time, signal.base_date, rest)


def _digital(signal: Signal) -> np.ndarray:
    """The ADC samples [T, C] int64 of a Signal on its grid (invalid samples as ecg_file.INVALID_DIGITAL)."""
    return stream.digital(signal.samples, signal.channels)


def _gains(signal: Signal) -> np.ndarray:
    return np.array([ch.gain for ch in signal.channels], dtype=np.float64)


def _baselines(signal: Signal) -> np.ndarray:
    return np.array([ch.baseline for ch in signal.channels], dtype=np.float64)


def _check_prdn(max_prdn: float, signal: Signal | stream.Source) -> None:
    """InputError unless max_prdn is a positive percentage."""
    if not (isinstance(max_prdn, (int, float)) and math.isfinite(max_prdn) and max_prdn > 0):
        raise InputError(f"{signal.record_name}: --max-prdn must be a positive percentage, got {max_prdn!r}")


def _bound_range(source: stream.Source, max_prdn: float) -> tuple[float, int]:
    """Where `--max-prdn`'s search of the residual layer's max error starts and its cap (ADC units). It starts at
    the largest E at which an error spread evenly over the 2E + 1 integers -E..E (rms sqrt(E(E + 1) / 3), which
    the layer alone comes close to, and around the model stays under) gives the channel of least spread a PRDN of
    max_prdn. The cap is the widest channel's peak-to-peak range: every sample is then within E of any value its
    channel takes. The spreads are sums over the record read in windows (stream.spread), the same whatever the
    window."""
    spreads, ranges = [], [1.0]
    found = stream.spread(source, np.array([ch.gain for ch in source.channels], dtype=np.float64))
    for c in range(len(source.channels)):
        if found.count[c] and found.hi[c] > found.lo[c]:  # a flat channel's PRDN is undefined: it sets no bound
            spreads.append(found.std(c))
            ranges.append(float(found.hi[c] - found.lo[c]))
    rms = max_prdn / 100 * min(spreads) if spreads else 0.0
    return (math.sqrt(1 + 12 * rms**2) - 1) / 2, math.ceil(max(ranges))


def check_max_error(max_error: int, signal: Signal | stream.Source) -> None:
    """InputError unless max_error is a whole number of ADC units the residual layer can bound."""
    if isinstance(max_error, bool) or not isinstance(max_error, (int, np.integer)):
        raise InputError(f"{signal.record_name}: max error must be a whole number of ADC units, got {max_error!r}")
    if not 0 <= max_error <= residual.MAX_ERROR_LIMIT:
        raise InputError(f"{signal.record_name}: max error {max_error} outside [0, {residual.MAX_ERROR_LIMIT}]")


def record_template(h: vqc.Header, meta: EcgMeta, name: str = "<bytes>") -> Signal:
    """`signal_template` with the aux signals at the record's rate and length among its channels, in their positions:
    the columns `Codec.decode_windows` gives (the others in its `aux`, with empty samples)."""
    t = signal_template(h, meta, name)
    same = [a for a in meta.aux if (a.fs, a.n_samples) == (h.fs, h.n_samples)]
    placed = dict(zip(channel_positions(h.n_channels, [a.position for a in meta.aux]), t.channels))
    placed.update({a.position: a.channel for a in same})
    rest = [AuxChannel(a.position, a.fs, a.channel, np.zeros(0)) for a in meta.aux if a not in same]
    return Signal(np.zeros((h.n_samples, len(placed))), h.fs, [placed[p] for p in sorted(placed)], t.record_name,
                  list(t.comments), t.base_time, t.base_date, rest)


def signal_template(h: vqc.Header, meta: EcgMeta, name: str = "<bytes>") -> Signal:
    """An empty-sample Signal carrying the record metadata stored in a header.

    The metadata passed the CRCs but is still untrusted: wrong types are a FormatError, never a TypeError.
    """
    if meta.invalid:
        raise FormatError(f"{name}: {meta.invalid}")
    if len(meta.channels) != h.n_channels:
        raise FormatError(f"{name}: header channel list disagrees with n_channels")
    return Signal(np.zeros((h.n_samples, h.n_channels)), h.fs, meta.channels, meta.record, list(meta.comments),
                  meta.base_time, meta.base_date)


def codec_for(header: vqc.Header, model: str | Path | Codec | None, name: str) -> Codec:
    """The Codec to decode a file with: the given one, or the installed bundle whose id the file names."""
    if isinstance(model, Codec):
        return model
    if model is not None:
        return Codec.load(model)
    bundle = find_by_id(header.model_sha256)
    if bundle is None:
        wanted = EcgMeta.from_json(header.meta).model
        raise ModelNotFoundError(
            f"{name}: model {wanted} sha256 {header.model_sha256} is not installed "
            f"(installed: {', '.join(installed_models()) or 'none'}); pass --model PATH"
        )
    return Codec(bundle)


def duration_text(seconds: float) -> str:
    """'30 min 05.6 s' style duration for reports."""
    if not math.isfinite(seconds):
        return "?"
    m, s = divmod(seconds, 60)
    return f"{int(m)} min {s:04.1f} s" if m else f"{s:.1f} s"

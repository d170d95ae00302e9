"""Error-bounded residual layer: |d - d~| <= E on every ADC sample d, lossless when E = 0.

Closed-loop predictive coding in integers (near-lossless DPCM, as in JPEG-LS): each sample is predicted
from the previous ORDER reconstructed samples and, when the model is used, from the model's own
reconstruction around it; the prediction error is quantised with step 2E + 1 and coded with rANS
(`constriction`) under two-sided geometric tables chosen per sample by the recent error size. The
recursion runs over many independent lanes at once (each a run of LANE_SAMPLES samples of one channel), so
numpy does the sequential work for all lanes in one step.

Every table and every prediction is integer arithmetic, so the decoder repeats the encoder exactly on
any machine. The model's reconstruction is a float from onnxruntime, which is not bit-exact across
machines: it is rounded to integers, and the samples within ROUND_GUARD of a half-integer are listed
with the rounding the encoder used. A CRC-32 of the decoded samples per channel catches anything
beyond that: decoding fails loudly rather than break the bound. Layout: docs/FORMAT.md, section RESD.
"""

from __future__ import annotations

import math
import struct
import zlib
from collections.abc import Callable
from functools import lru_cache

import numpy as np
import zstandard

from vqcodec.errors import ChecksumError, FormatError

LANE_SAMPLES = 2048
"""Samples per lane: lanes run in parallel; each starts from its first sample, stored whole."""
ORDER = 16
"""Past reconstructed samples in the prediction (an LPC of order 16: 3 % fewer bits than order 8 on val)."""
MODEL_TAPS = (-1, 0, 1)
"""Offsets of the model's reconstruction samples in the prediction, when the model is used."""
COEF_BITS = 12
"""Prediction coefficients are integers in units of 2**-COEF_BITS."""
MAX_COEF = 1 << 20
RADIX = 127
"""Quantised errors in [-RADIX, RADIX] are coded directly; others are escaped and stored as int64."""
ESCAPE = 2 * RADIX + 1
ALPHABET = 2 * RADIX + 2
N_CLASSES = 48
MEAN_LO = 0.01
"""Mean |q| of the first class; each next class's mean is CLASS_RATIO times larger (up to ~120)."""
CLASS_RATIO = 1.22
TABLE_BITS = 24
"""Frequencies are integers below 2**TABLE_BITS: exact in float64, so constriction sees the same table everywhere."""
ESCAPE_FREQ = 1 << 4
ACTIVITY_SHIFT = 3
"""The context is an integer moving average of |q| (x16) with weight 2**-ACTIVITY_SHIFT per sample."""
ACTIVITY_START = 4 * 16
GRADIENT_SHIFT = 3
ROUND_GUARD = 2e-3
"""Model predictions within this distance (ADC units) of a half-integer are listed with their rounding.

onnxruntime differs across CPUs by ~1e-6 of the normalised signal (~1e-4 ADC units on MIT-BIH)."""
MAX_ERROR_LIMIT = 1 << 20
N_CONTEXTS = 9 * N_CLASSES
"""Adaptive layout (written since format 1.4): each class split by the sign of the previous quantised error and
the sign of the last reconstructed slope; on val it codes 5.8 % fewer bits than the static tables."""
RESIDUAL_PRIOR_MASS = 256
"""Weight of a context's starting table (its class's geometric law), in coded symbols."""
MAX_SHARE = 255
"""No symbol of the adaptive model gets more than MAX_SHARE times the weight of all the others (p <= 255/256), so
a sample costs at least 0.0056 bits and a small section cannot claim a huge record (see check_size)."""
RESIDUAL_COUNT_WEIGHT = 1 << 12
_HEAD = struct.Struct("<IIHHBII")  # max_error, lane, order, n_contexts, uses_model, n_samples, n_channels
_PART = struct.Struct("<I")
_N_PARTS = 7
ZSTD_LEVEL = 19


def _geometric_table(mean: float) -> list[int]:
    """Integer frequencies of a two-sided geometric law with the given mean |q|, plus the escape symbol."""
    theta = (math.sqrt(1.0 + mean * mean) - 1.0) / mean  # mean |q| = 2 theta / (1 - theta^2)
    ratio = max(1, min((1 << 16) - 1, round(theta * (1 << 16))))
    half = [1 << (TABLE_BITS - 2)]
    for _ in range(RADIX):
        half.append(max(1, half[-1] * ratio >> 16))
    return half[:0:-1] + half + [ESCAPE_FREQ]


@lru_cache(maxsize=1)
def tables() -> tuple[np.ndarray, np.ndarray]:
    """(frequencies [N_CLASSES, ALPHABET] float64 holding integers, activity thresholds [N_CLASSES - 1] int64).

    Only correctly rounded float operations (*, /, sqrt) feed integer rounding here, so every machine
    builds the same tables. Class j is chosen when the activity (16 x mean |q|) is nearest its mean.
    """
    means = [MEAN_LO]
    for _ in range(N_CLASSES - 1):
        means.append(means[-1] * CLASS_RATIO)
    freq = np.array([_geometric_table(m) for m in means], dtype=np.float64)
    mid = math.sqrt(CLASS_RATIO)
    thresholds = np.array([round(16 * m * mid) for m in means[:-1]], dtype=np.int64)
    return freq, thresholds


@lru_cache(maxsize=1)
def context_priors() -> np.ndarray:
    """[N_CONTEXTS, ALPHABET] int64: each adaptive context's starting weights, its class's table scaled to
    RESIDUAL_PRIOR_MASS symbols' worth (integers, at least 1)."""
    freq = tables()[0].astype(np.int64)
    rows = freq.sum(axis=1, keepdims=True)
    scaled = np.maximum(1, (freq * (RESIDUAL_PRIOR_MASS * RESIDUAL_COUNT_WEIGHT) * 2 + rows) // (2 * rows))
    return np.repeat(scaled, 9, axis=0)


def _adaptive_rows(counts: np.ndarray, ctx: np.ndarray) -> np.ndarray:
    """Weights [n, ALPHABET] (float64 holding integers) of the next symbol in each context: counts plus the
    prior, the largest capped at MAX_SHARE times the rest."""
    w = counts[ctx] * RESIDUAL_COUNT_WEIGHT + context_priors()[ctx]
    top = w.argmax(axis=1)
    rows = np.arange(len(w))
    rest = w.sum(axis=1) - w[rows, top]
    w[rows, top] = np.minimum(w[rows, top], rest * MAX_SHARE)
    return w.astype(np.float64)


def _models() -> list:
    import constriction

    return [constriction.stream.model.Categorical(f, perfect=False) for f in tables()[0]]


def _rounded(p: np.ndarray) -> np.ndarray:
    """The model prediction [T, C] rounded to integers, half up: the rule encoder and decoder share."""
    return np.floor(p + 0.5).astype(np.int64)


def round_prediction(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Model prediction p [T, C] float -> (rounded int64, flat positions within ROUND_GUARD of a half-integer)."""
    return _rounded(p), np.flatnonzero(np.abs(p - np.floor(p) - 0.5) < ROUND_GUARD)


def _regressors(d: np.ndarray, x: np.ndarray | None) -> np.ndarray:
    """Columns of the prediction for one channel: d[n-1..n-ORDER], then x[n+k] for k in MODEL_TAPS."""
    n = len(d)
    cols = [np.concatenate([np.zeros(i), d[: n - i]]) for i in range(1, ORDER + 1)]
    if x is not None:
        cols += [np.concatenate([x[k:], np.repeat(x[-1:], k)]) if k >= 0
                 else np.concatenate([np.repeat(x[:1], -k), x[:k]])
                 for k in MODEL_TAPS]
    return np.stack(cols, axis=1).astype(np.float64)


def fit(d: np.ndarray, x: np.ndarray | None, max_error: int, seed: int = 0) -> np.ndarray:
    """Least-squares prediction coefficients of one channel, as integers (units of 2**-COEF_BITS).

    The past is what the decoder will have: d plus the quantisation error, so the fit adds uniform noise
    of that size (encoder only; the coefficients are stored).
    """
    k = ORDER + (0 if x is None else len(MODEL_TAPS))
    w = np.zeros(k)
    if len(d) <= 4 * k:
        w[0] = 1.0  # too short to fit: repeat the previous sample
    else:
        noisy = d + np.random.default_rng(seed).integers(-max_error, max_error + 1, len(d)) if max_error else d
        a = _regressors(noisy.astype(np.float64), None if x is None else x.astype(np.float64))
        w = np.linalg.lstsq(a[ORDER:], d[ORDER:].astype(np.float64), rcond=None)[0]
    return np.clip(np.rint(w * (1 << COEF_BITS)), -MAX_COEF, MAX_COEF).astype(np.int64)


class _Lanes:
    """The lane layout: channel c's samples [l * LANE_SAMPLES, (l + 1) * LANE_SAMPLES) form lane c * per_channel + l."""

    def __init__(self, t: int, c: int) -> None:
        self.t, self.c = t, c
        self.per_channel = -(-t // LANE_SAMPLES)
        self.n = c * self.per_channel
        self.channel = np.repeat(np.arange(c), self.per_channel)
        self.length = (np.tile(np.minimum(LANE_SAMPLES, t - np.arange(self.per_channel) * LANE_SAMPLES), c) if t
                       else np.zeros(0, int))

    def split(self, a: np.ndarray, fill: int = 0) -> np.ndarray:
        """[T, C] -> [lanes, LANE_SAMPLES] (the last lane of each channel padded with `fill`)."""
        out = np.full((self.c, self.per_channel * LANE_SAMPLES), fill, dtype=a.dtype)
        out[:, : self.t] = a.T
        return out.reshape(self.n, LANE_SAMPLES)

    def join(self, a: np.ndarray) -> np.ndarray:
        """[lanes, LANE_SAMPLES] -> [T, C]."""
        return a.reshape(self.c, self.per_channel * LANE_SAMPLES)[:, : self.t].T.copy()


def _run(lanes: _Lanes, coef: np.ndarray, first: np.ndarray, xs: np.ndarray | None, max_error: int,
         step_q: Callable[..., np.ndarray], adaptive: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The closed loop, shared by encoder and decoder: (reconstruction [lanes, LANE_SAMPLES], contexts [lanes,
    LANE_SAMPLES]).

    step_q(t, ...) returns the quantised errors of column t given the prediction and the contexts: the classes,
    or with `adaptive` each class split 9 ways by the signs of the previous error and of the last slope.
    """
    _, thresholds = tables()
    step = 2 * max_error + 1
    w = coef[lanes.channel]  # [lanes, K]
    recon = np.zeros((lanes.n, ORDER + LANE_SAMPLES), dtype=np.int64)
    recon[:, :ORDER] = first[:, None]  # history before a lane: its first sample, repeated
    classes = np.zeros((lanes.n, LANE_SAMPLES), dtype=np.int64)
    activity = np.full(lanes.n, ACTIVITY_START, dtype=np.int64)
    last_q = np.zeros(lanes.n, dtype=np.int64)
    taps = None
    if xs is not None:  # the model terms do not depend on the loop: add them up front
        pad = np.pad(xs, ((0, 0), (1, 1)), mode="edge")
        taps = sum(w[:, ORDER + i, None] * pad[:, 1 + k : 1 + k + LANE_SAMPLES] for i, k in enumerate(MODEL_TAPS))
    half = 1 << (COEF_BITS - 1)
    wr = w[:, ORDER - 1 :: -1]  # reversed: recon[:, t:t+ORDER] is oldest first
    for t in range(LANE_SAMPLES):
        acc = np.einsum("ij,ij->i", recon[:, t : t + ORDER], wr)
        if taps is not None:
            acc = acc + taps[:, t]
        pred = (acc + half) >> COEF_BITS
        grad = np.abs(recon[:, t + ORDER - 1] - recon[:, t + ORDER - 2])
        cls = np.searchsorted(thresholds, activity + (((np.minimum(grad, 1 << 30) << 4) // step) >> GRADIENT_SHIFT),
                              side="right")
        if adaptive:
            slope = np.sign(recon[:, t + ORDER - 1] - recon[:, t + ORDER - 2])
            cls = cls * 9 + (np.sign(last_q) + 1) * 3 + slope + 1
        classes[:, t] = cls
        q = step_q(t, pred, cls)
        last_q = q
        recon[:, ORDER + t] = pred + q * step
        activity += ((np.minimum(np.abs(q), RADIX + 1) << 4) - activity) >> ACTIVITY_SHIFT
    return recon[:, ORDER:], classes


def _zpack(a: np.ndarray) -> bytes:
    return zstandard.ZstdCompressor(level=ZSTD_LEVEL, write_content_size=True).compress(a.tobytes())


def _parts(*chunks: bytes) -> bytes:
    return b"".join(_PART.pack(len(c)) + c for c in chunks)


def _channel_crcs(recon: np.ndarray) -> np.ndarray:
    return np.array([zlib.crc32(np.ascontiguousarray(recon[:, ch]).astype("<i8").tobytes())
                     for ch in range(recon.shape[1])], dtype="<u4")


def encode(d: np.ndarray, p: np.ndarray | None, max_error: int, adaptive: bool = True) -> tuple[bytes, np.ndarray]:
    """ADC samples d [T, C] int64, the model's prediction p [T, C] float (None: not used) ->
    (RESD payload, reconstruction d~ [T, C] int64 with |d - d~| <= max_error).

    adaptive=False writes the static-table layout of format 1.1 (kept for reading old files and for tests)."""
    if not 0 <= max_error <= MAX_ERROR_LIMIT:
        raise ValueError(f"max_error must be in [0, {MAX_ERROR_LIMIT}], got {max_error}")
    t, c = d.shape
    step = 2 * max_error + 1
    lanes = _Lanes(t, c)
    if p is not None:
        xr, guarded = round_prediction(p)
        guard_values = xr.ravel()[guarded]
    else:
        xr, guarded, guard_values = None, np.zeros(0, np.int64), np.zeros(0, np.int64)
    coef = np.stack([fit(d[:, ch], None if xr is None else xr[:, ch], max_error, ch) for ch in range(c)]) if c \
        else np.zeros((0, ORDER + (len(MODEL_TAPS) if p is not None else 0)), np.int64)
    dl = lanes.split(d)
    first = dl[:, 0].copy()
    xs = lanes.split(xr) if xr is not None else None
    symbols = np.full((lanes.n, LANE_SAMPLES), RADIX, dtype=np.int64)
    escapes: list[np.ndarray] = []

    def step_q(i: int, pred: np.ndarray, cls: np.ndarray) -> np.ndarray:
        q = np.floor_divide(dl[:, i] - pred + max_error, step)
        q[lanes.length <= i] = 0  # padding after a channel's end
        esc = np.abs(q) > RADIX
        symbols[:, i] = np.where(esc, ESCAPE, q + RADIX)
        if esc.any():
            escapes.append(q[esc])
        return q

    recon, classes = _run(lanes, coef, first, xs, max_error, step_q, adaptive)
    live = np.arange(LANE_SAMPLES)[None, :] < lanes.length[:, None]
    streams = _adaptive_stream(classes, symbols, live) if adaptive else _static_streams(classes, symbols, live)
    out = lanes.join(recon)
    head = _HEAD.pack(max_error, LANE_SAMPLES, ORDER, N_CONTEXTS if adaptive else N_CLASSES, int(p is not None), t, c)
    payload = head + _parts(
        coef.astype("<i8").tobytes(), _zpack(first.astype("<i8")),
        np.array([len(s) for s in streams], dtype="<u4").tobytes() + b"".join(s.tobytes() for s in streams),
        _zpack(np.concatenate(escapes).astype("<i8") if escapes else np.zeros(0, "<i8")),
        _zpack(np.diff(guarded, prepend=0).astype("<u8")), _zpack(guard_values.astype("<i8")),
        _channel_crcs(out).tobytes(),
    )
    return payload, out


def _static_streams(classes: np.ndarray, symbols: np.ndarray, live: np.ndarray) -> list[np.ndarray]:
    """Format 1.1: one rANS stream per class, each symbol under its class's fixed table, column by column."""
    import constriction

    streams = []
    models = _models()
    order = classes.T.ravel()  # decode order: column by column
    sym_order = symbols.T.ravel()
    live_order = live.T.ravel()
    for j in range(N_CLASSES):
        sel = sym_order[(order == j) & live_order]
        coder = constriction.stream.stack.AnsCoder()
        if sel.size:
            coder.encode_reverse(sel.astype(np.int32), models[j])
        streams.append(coder.get_compressed().astype("<u4"))
    return streams


def _adaptive_stream(contexts: np.ndarray, symbols: np.ndarray, live: np.ndarray) -> list[np.ndarray]:
    """One rANS stream; column by column, every live lane's symbol under its context's adaptive weights as they
    stood before that column. Encoded backwards (a stack), undoing the counts column by column."""
    import constriction

    family = constriction.stream.model.Categorical(perfect=False)
    counts = np.zeros((N_CONTEXTS, ALPHABET), dtype=np.int64)
    np.add.at(counts, (contexts[live], symbols[live]), 1)
    coder = constriction.stream.stack.AnsCoder()
    for t in range(LANE_SAMPLES - 1, -1, -1):
        lv = live[:, t]
        if lv.any():
            ctx, sym = contexts[lv, t], symbols[lv, t]
            np.subtract.at(counts, (ctx, sym), 1)
            coder.encode_reverse(sym.astype(np.int32), family, _adaptive_rows(counts, ctx))
    return [coder.get_compressed().astype("<u4")]


def _split(payload: memoryview, name: str) -> list[memoryview]:
    out, pos = [], _HEAD.size
    while pos < len(payload):
        if pos + _PART.size > len(payload):
            raise FormatError(f"{name}: residual section truncated")
        (n,) = _PART.unpack(payload[pos : pos + _PART.size])
        pos += _PART.size
        if pos + n > len(payload):
            raise FormatError(f"{name}: residual section truncated")
        out.append(payload[pos : pos + n])
        pos += n
    if len(out) != _N_PARTS:
        raise FormatError(f"{name}: residual section has {len(out)} parts, expected {_N_PARTS}")
    return out


def _zunpack(part: memoryview, dtype: str, count: int | None, limit: int, name: str, what: str) -> np.ndarray:
    """Decompress a part holding `count` items (any count up to `limit` when None), size checked first."""
    item = np.dtype(dtype).itemsize
    try:
        declared = zstandard.frame_content_size(part)
        if declared < 0 or declared % item or (count is not None and declared != count * item) \
                or declared > limit * item:
            raise FormatError(f"{name}: residual {what}: {declared} bytes do not fit the record")
        raw = zstandard.ZstdDecompressor().decompress(part, max_output_size=max(declared, 1))
    except zstandard.ZstdError as e:
        raise FormatError(f"{name}: residual {what}: zstd: {e}") from None
    return np.frombuffer(raw, dtype)


@lru_cache(maxsize=2)
def min_bits_per_sample(adaptive: bool = False) -> float:
    """The fewest bits any sample can cost: -log2 of the largest probability in any static table (about 0.015),
    or of MAX_SHARE / (MAX_SHARE + 1) under the adaptive model (about 0.0056)."""
    if adaptive:
        return float(-np.log2(MAX_SHARE / (MAX_SHARE + 1)))
    freq = tables()[0]
    return float(-np.log2((freq / freq.sum(axis=1, keepdims=True)).max()))


def _n_streams(adaptive: bool) -> int:
    return 1 if adaptive else N_CLASSES


def check_size(payload: bytes | memoryview, name: str) -> None:
    """FormatError when the rANS streams are too short to hold n_samples x n_channels symbols.

    Arithmetic coding cannot spend less than min_bits_per_sample per sample, so a small section that claims a
    huge record is refused before the decoder allocates for it (half the bound, plus slack, to be safe).
    """
    _, _, t, c = header(payload, name)
    adaptive = is_adaptive(payload)
    n = _n_streams(adaptive)
    parts = _split(memoryview(payload), name)
    stream_bits = 8 * max(0, len(parts[2]) - 4 * n)
    if stream_bits + 64 * n < 0.5 * min_bits_per_sample(adaptive) * t * c:
        raise FormatError(f"{name}: residual section is {len(payload)} bytes, too short for {t} x {c} samples")


def is_adaptive(payload: bytes | memoryview) -> bool:
    """Whether a (header-checked) RESD payload uses the adaptive contexts of format 1.4."""
    return len(payload) >= _HEAD.size and _HEAD.unpack(bytes(payload[: _HEAD.size]))[3] == N_CONTEXTS


def header(payload: bytes | memoryview, name: str) -> tuple[int, bool, int, int]:
    """(max_error, uses_model, n_samples, n_channels) of a RESD payload; FormatError when malformed."""
    if len(payload) < _HEAD.size:
        raise FormatError(f"{name}: residual section truncated")
    max_error, lane, order, n_classes, uses_model, t, c = _HEAD.unpack(bytes(payload[: _HEAD.size]))
    if (lane, order) != (LANE_SAMPLES, ORDER) or n_classes not in (N_CLASSES, N_CONTEXTS) or uses_model > 1 \
            or max_error > MAX_ERROR_LIMIT:
        raise FormatError(f"{name}: residual layer layout (lane {lane}, order {order}, {n_classes} classes) "
                          "is not supported")
    return max_error, bool(uses_model), t, c


def decode(payload: bytes | memoryview, p: np.ndarray | None, shape: tuple[int, int], name: str,
           verify: bool = True) -> np.ndarray:
    """RESD payload and this machine's model prediction p [T, C] (None when the layer does not use it)
    -> the integer reconstruction d~ [T, C]. verify=False skips the per-channel CRC (salvage)."""
    import constriction

    view = memoryview(payload)
    max_error, uses_model, t, c = header(view, name)
    if (t, c) != shape:
        raise FormatError(f"{name}: residual layer is for {t} x {c} samples, the record has {shape[0]} x {shape[1]}")
    if uses_model != (p is not None):
        raise FormatError(f"{name}: residual layer and model prediction disagree")
    adaptive = is_adaptive(view)
    n_streams = _n_streams(adaptive)
    parts = _split(view, name)
    lanes = _Lanes(t, c)
    k = ORDER + (len(MODEL_TAPS) if uses_model else 0)
    if len(parts[0]) != 8 * c * k:
        raise FormatError(f"{name}: residual coefficients have the wrong length")
    coef = np.frombuffer(parts[0], "<i8").reshape(c, k).astype(np.int64)
    if (np.abs(coef) > MAX_COEF).any():
        raise FormatError(f"{name}: residual coefficient out of range")
    first = _zunpack(parts[1], "<i8", lanes.n, lanes.n, name, "lane starts").astype(np.int64)
    if (np.abs(first) > 1 << 40).any():
        raise FormatError(f"{name}: residual lane start out of range")
    if len(parts[2]) < 4 * n_streams:
        raise FormatError(f"{name}: residual streams truncated")
    sizes = np.frombuffer(parts[2][: 4 * n_streams], "<u4").astype(np.int64)
    if 4 * (n_streams + sizes.sum()) != len(parts[2]):
        raise FormatError(f"{name}: residual stream sizes do not add up")
    ends = n_streams * 4 + 4 * np.cumsum(sizes)
    try:
        coders = [constriction.stream.stack.AnsCoder(np.frombuffer(parts[2][e - 4 * s : e], "<u4").astype(np.uint32))
                  for s, e in zip(sizes, ends)]
    except ValueError as e:  # constriction refuses a stream that cannot have been written by an encoder
        raise FormatError(f"{name}: residual stream invalid ({e})") from None
    escapes = _zunpack(parts[3], "<i8", None, t * c, name, "escapes").astype(np.int64)
    xs = None
    if uses_model:
        gaps = _zunpack(parts[4], "<u8", None, t * c, name, "guard positions")
        values = _zunpack(parts[5], "<i8", len(gaps), t * c, name, "guard values").astype(np.int64)
        positions = np.cumsum(gaps.astype(np.uint64)).astype(np.int64)
        if len(gaps) and (positions[-1] >= t * c or (np.diff(positions) <= 0).any()):
            raise FormatError(f"{name}: residual guard positions out of range")
        if p is None:
            raise FormatError(f"{name}: the residual layer codes around the model, and no model output was given")
        xr = _rounded(p)
        xr.ravel()[positions] = values
        xs = lanes.split(xr)
    models = _models()
    family = constriction.stream.model.Categorical(perfect=False)
    counts = np.zeros((N_CONTEXTS, ALPHABET), dtype=np.int64)
    n_escape = 0

    def step_q(i: int, pred: np.ndarray, cls: np.ndarray) -> np.ndarray:
        nonlocal n_escape
        live = lanes.length > i
        sym = np.full(lanes.n, RADIX, dtype=np.int64)
        try:
            if adaptive:
                if live.any():
                    sym[live] = coders[0].decode(family, _adaptive_rows(counts, cls[live]))
                    np.add.at(counts, (cls[live], sym[live]), 1)
            else:
                for j in np.unique(cls[live]):
                    sel = live & (cls == j)
                    sym[sel] = coders[j].decode(models[j], int(sel.sum()))
        except (ValueError, AssertionError, RuntimeError) as e:
            raise ChecksumError(f"{name}: residual stream damaged ({e})") from None
        q = sym - RADIX
        esc = sym == ESCAPE
        m = int(esc.sum())
        if m:
            if n_escape + m > len(escapes):
                raise FormatError(f"{name}: residual escapes run out")
            q[esc] = escapes[n_escape : n_escape + m]
            n_escape += m
        return q

    recon, _ = _run(lanes, coef, first, xs, max_error, step_q, adaptive)
    out = lanes.join(recon)
    if n_escape != len(escapes) or not all(cd.is_empty() for cd in coders):
        raise ChecksumError(f"{name}: residual streams do not end where they should: the section is damaged or the "
                            "model's prediction differs on this machine, so the error bound cannot be guaranteed")
    crcs = np.frombuffer(parts[6], "<u4") if len(parts[6]) == 4 * c else None
    if crcs is None:
        raise FormatError(f"{name}: residual CRC list has the wrong length")
    if verify and not np.array_equal(_channel_crcs(out), crcs):
        raise ChecksumError(
            f"{name}: the decoded samples do not match the encoder's (CRC); the model's prediction differs on this "
            "machine beyond the rounding guard, so the error bound cannot be guaranteed"
        )
    return out

"""`vqcodec bench`: rate, distortion, speed and beat fidelity of vqcodec and the baselines on WFDB records.

Every method setting codes every record through real bytes; each reconstruction lies on the record's integer
ADC grid. The results are summarised per record, as the mean over records, as CR at matched PRDN (log CR
interpolated against PRDN over each method's settings) and as QRS detection scores against the reference
beat annotations; as Markdown for people and JSON for scripts.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields
from itertools import groupby
from pathlib import Path

import numpy as np
import wfdb
from wfdb.processing import compare_annotations, gqrs_detect

from vqcodec import io
from vqcodec.bench import baselines
from vqcodec.bench.baselines import Baseline, MissingBaseline, Unsupported
from vqcodec.ecg.codec import Codec
from vqcodec.ecg.conditioning import fill_invalid, quantize_to_grid
from vqcodec.ecg.signal import Signal
from vqcodec.errors import InputError
from vqcodec.io.wfdb import record_base
from vqcodec.metrics import compare

VQCODEC = "vqcodec"
BOUNDED = "vqcodec --max-error"
"""vqcodec with the error-bounded residual layer: its own curve in the matched-quality table."""
MAX_ERRORS = (0, 1, 2, 5)
"""Max errors (ADC units) benched by default; 0 is --lossless."""
RATE_CONTROLLED = "vqcodec --max-prdn"
"""vqcodec choosing its setting per record (Codec.compress_to_prdn); benched only when asked."""
FAMILIES = (VQCODEC,) + baselines.FAMILIES
"""What `--methods` takes, in table order."""
MATCHED_PRDN = (2.0, 4.0, 8.0)
"""PRDN (%) at which lossy methods' CRs are compared."""
ANNOTATOR = "atr"
BEAT_SYMBOLS = frozenset("NLRBAaJSVrFejnE/fQ?")
"""MIT-BIH beat annotation codes (rhythm, noise and other non-beat labels are left out)."""
BEAT_WINDOW_S = 0.150
"""Largest |detection - reference| that counts as a match (the ANSI/AAMI EC57 window)."""
BEAT_LEAD = 0
PLOT_LEAD = 0
OVERLAY_WINDOW = (0.0, 8.0)
"""Default overlay: start and length in seconds."""
DETECTOR = "wfdb.processing.gqrs_detect"
MEGA = 1e6

Progress = Callable[[str], None]


@dataclass
class Method:
    """One codec at one setting as bench runs it: Signal -> bytes -> Signal on the record's ADC grid.

    decode takes the original Signal for its metadata (rate, channels) only.
    """

    codec: str
    setting: str
    lossless: bool
    encode: Callable[[Signal], bytes]
    decode: Callable[[bytes, Signal], Signal]

    @property
    def name(self) -> str:
        return f"{self.codec} {self.setting}".strip()


@dataclass
class Row:
    """One method setting on one record (or the mean over records); rates count every byte."""

    codec: str
    setting: str
    lossless: bool
    record: str
    n_bytes: float
    cr: float
    bits_per_sample: float
    bits_per_second: float
    prd: float
    prdn: float
    snr: float
    max_err: float
    encode_sps: float
    decode_sps: float
    sensitivity: float = math.nan
    ppv: float = math.nan

    @property
    def name(self) -> str:
        return f"{self.codec} {self.setting}".strip()


@dataclass
class Bench:
    """Everything one run measured, plus what was skipped and why."""

    records: list[str]
    rows: list[Row]
    seconds: float | None
    model: str | None
    missing: dict[str, str] = field(default_factory=dict)
    """{family, or 'method on record': why it was skipped}."""
    original_beats: dict[str, tuple[float, float]] = field(default_factory=dict)
    kept: tuple[Signal, Signal, Row] | None = None
    """(original, reconstruction, row) of the one record/method asked for, for the overlay plot."""

    def methods(self) -> list[str]:
        """Method names in run order."""
        return list(dict.fromkeys(r.name for r in self.rows))


# -- inputs ---------------------------------------------------------------------------------------------
def find_records(paths: Sequence[Path], split_file: Path | None = None, split: str | None = None,
                 midi: bool = False) -> list[Path]:
    """Record paths (no suffix) from records and folders, or .mid files (midi=True), optionally kept to one
    split of a SPLITS.json."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir() and midi:
            found += sorted(p for p in path.iterdir() if io.is_midi(p))
        elif path.is_dir():
            found += sorted((p.with_suffix("") for p in path.glob("*.hea")), key=lambda p: p.name)
        else:
            found.append(path if midi else record_base(path))
    if (split_file is None) != (split is None):
        raise InputError("--split-file and --split go together")
    if split_file is not None:
        try:
            splits = json.loads(split_file.read_text())
        except (OSError, ValueError) as e:
            raise InputError(f"{split_file}: cannot read split file ({e})") from e
        if split not in splits:
            raise InputError(f"{split_file}: no split {split!r} (has {', '.join(splits)})")
        by_name = {p.name: p for p in found}
        absent = [n for n in splits[split] if n not in by_name]
        if absent:
            raise InputError(f"{split_file}: split {split!r} names records not given: {' '.join(absent)}")
        found = [by_name[n] for n in splits[split]]
    if not found:
        raise InputError(f"{' '.join(map(str, paths))}: no {'MIDI files' if midi else 'WFDB records'} found")
    return found


def load(path: Path, seconds: float | None = None) -> Signal:
    """A record, cut to its first `seconds` when given."""
    signal = io.read(path)
    if not isinstance(signal, Signal):
        raise InputError(f"{path}: not an ECG record")
    if seconds is None:
        return signal
    if seconds <= 0:
        raise InputError(f"--seconds must be positive, got {seconds:g}")
    n = min(signal.n_samples, max(1, round(seconds * signal.fs)))
    return Signal(signal.samples[:n], signal.fs, signal.channels, signal.record_name, signal.comments,
                  signal.base_time, signal.base_date)


def check_output(path: Path, records: Sequence[Path]) -> None:
    """Refuse an output path inside a folder that holds input records: bench never writes into the data."""
    target = path.resolve()
    for folder in {r.parent.resolve() for r in records}:
        if target == folder or folder in target.parents:
            raise InputError(f"{path}: refusing to write into the data folder {folder}")


# -- methods --------------------------------------------------------------------------------------------
def filled_digital(signal: Signal) -> np.ndarray:
    """[T, C] int64 ADC samples, invalid (NaN) runs bridged by linear interpolation as vqcodec does."""
    filled = np.stack([fill_invalid(signal.samples[:, c]) for c in range(signal.n_channels)], axis=1)
    return Signal(filled, signal.fs, signal.channels).digital()


def on_grid(digital: np.ndarray, template: Signal) -> Signal:
    """ADC-unit reconstruction [T, C] -> Signal rounded to the template's grid, its NaN runs restored."""
    gains = np.array([c.gain for c in template.channels])
    offsets = np.array([c.baseline for c in template.channels])
    y, _ = quantize_to_grid((digital - offsets) / gains, template.channels)
    y[np.isnan(template.samples)] = np.nan
    return Signal(y, template.fs, template.channels, template.record_name, template.comments,
                  template.base_time, template.base_date)


def baseline_method(b: Baseline) -> Method:
    """A baseline codec as a bench Method."""
    return Method(b.label, b.setting, b.lossless, lambda s: b.encode(filled_digital(s), s.fs),
                  lambda data, s: on_grid(b.decode(data), s))


def vqcodec_methods(codec: Codec, qualities: Sequence[int] | None = None,
                    max_errors: Sequence[int] = MAX_ERRORS, max_prdns: Sequence[float] = ()) -> list[Method]:
    """vqcodec at each quality level (all of the model's when None), then with each max error (residual
    layer, at the model's residual quality), then with each PRDN target, through real .vqc bytes."""
    qs = [codec.check_quality(q) for q in qualities] if qualities else codec.qualities
    def decode(data: bytes, s: Signal) -> Signal:
        return codec.decompress(data, s.record_name)

    def at_level(q: int) -> Callable[[Signal], bytes]:
        return lambda s: codec.compress(s, q)[0]

    def bounded(e: int) -> Callable[[Signal], bytes]:
        return lambda s: codec.compress(s, max_error=e)[0]

    def to_prdn(p: float) -> Callable[[Signal], bytes]:
        return lambda s: codec.compress_to_prdn(s, p)[0]

    return ([Method(VQCODEC, f"q={q}", False, at_level(q), decode) for q in qs]
            + [Method(BOUNDED, f"E={e}", e == 0, bounded(e), decode) for e in max_errors]
            + [Method(RATE_CONTROLLED, f"P={p:g}", False, to_prdn(p), decode) for p in max_prdns])


def build_methods(families: Sequence[str], codec: Codec | None = None, qualities: Sequence[int] | None = None,
                  max_errors: Sequence[int] = MAX_ERRORS, max_prdns: Sequence[float] = (),
                  ) -> tuple[list[Method], dict[str, str]]:
    """The methods of the chosen families, and {family: why skipped} for baselines not installed."""
    unknown = [f for f in families if f not in FAMILIES]
    if unknown:
        raise InputError(f"--methods: unknown {', '.join(unknown)} (choose from {', '.join(FAMILIES)})")
    methods: list[Method] = []
    missing: dict[str, str] = {}
    for family in families:
        if family == VQCODEC:
            if codec is None:
                raise InputError("--methods vqcodec needs a model")
            methods += vqcodec_methods(codec, qualities, max_errors, max_prdns)
            continue
        try:
            methods += [baseline_method(b) for b in baselines.make(family)]
        except MissingBaseline as e:
            missing[family] = str(e)
    if not methods:
        raise InputError(f"nothing to bench: {'; '.join(missing.values()) or 'no methods chosen'}")
    return methods, missing


def overlay_target(methods: Sequence[Method], records: Sequence[Path], codec: Codec | None = None,
                   record: str | None = None, method: str | None = None) -> tuple[str, str]:
    """(record, method name) for the overlay plot; by default the first record and vqcodec at the model's
    quality, else the first lossy method."""
    names = [m.name for m in methods]
    if method is None:
        preferred = f"{VQCODEC} q={codec.default_quality}" if codec is not None else None
        lossy = [m.name for m in methods if not m.lossless]
        method = preferred if preferred in names else (lossy or names)[0]
    if method not in names:
        raise InputError(f"--overlay-method: no method {method!r} in this run (have: {', '.join(names)})")
    record = record or records[0].name
    if record not in [r.name for r in records]:
        raise InputError(f"--overlay-record: record {record!r} is not among the records benched")
    return record, method


# -- beats ----------------------------------------------------------------------------------------------
def reference_beats(path: Path, n_samples: int) -> np.ndarray | None:
    """Sample indices of the reference beats in the first n_samples, or None without a .atr file."""
    base = record_base(path)
    if not base.with_name(f"{base.name}.{ANNOTATOR}").is_file():
        return None
    ann = wfdb.rdann(str(base), ANNOTATOR, sampto=n_samples)
    keep = np.isin(np.asarray(ann.symbol), list(BEAT_SYMBOLS))
    return np.asarray(ann.sample)[keep]


def detect_beats(signal: Signal) -> np.ndarray:
    """QRS locations found by gqrs on lead BEAT_LEAD (about 2 s per 30-minute lead on one core)."""
    ch = signal.channels[BEAT_LEAD]
    digital = np.rint(fill_invalid(signal.samples[:, BEAT_LEAD]) * ch.gain + ch.baseline).astype(np.int64)
    found = gqrs_detect(d_sig=digital, fs=signal.fs, adc_gain=ch.gain, adc_zero=ch.adc_zero)
    return np.asarray(found, dtype=np.int64)


def score_beats(reference: np.ndarray, detected: np.ndarray, fs: float) -> tuple[float, float]:
    """(sensitivity, positive predictivity) of detections against reference beats, within BEAT_WINDOW_S."""
    if len(reference) == 0 or len(detected) == 0:  # wfdb's Comparitor fails on empty inputs
        return (0.0 if len(reference) else math.nan), (0.0 if len(detected) else math.nan)
    # wfdb matches only |difference| < window_width (strictly), so add one sample to accept exactly 150 ms
    c = compare_annotations(reference, detected, math.floor(BEAT_WINDOW_S * fs) + 1)
    c.compare()
    return float(c.sensitivity), float(c.positive_predictivity)


# -- running --------------------------------------------------------------------------------------------
def measure(method: Method, signal: Signal) -> tuple[Row, Signal]:
    """Code one record with one method: the table row and the reconstruction."""
    t0 = time.perf_counter()
    data = method.encode(signal)
    t1 = time.perf_counter()
    decoded = method.decode(data, signal)
    t2 = time.perf_counter()
    r = compare(signal, decoded, len(data))
    total = r.total_samples
    row = Row(method.codec, method.setting, method.lossless, signal.record_name, len(data), r.cr,
              r.bits_per_sample, r.bits_per_second, r.prd, r.prdn, r.snr, r.max_err,
              total / (t1 - t0) if t1 > t0 else math.inf, total / (t2 - t1) if t2 > t1 else math.inf)
    return row, decoded


def run(records: Sequence[Path], methods: Sequence[Method], seconds: float | None = None, beats: bool = True,
        keep: tuple[str, str] | None = None, model: str | None = None, missing: dict[str, str] | None = None,
        progress: Progress | None = None) -> Bench:
    """Every method on every record; `keep` = (record, method name) whose reconstruction to keep for a plot.

    Beat detection runs on lossy reconstructions only: a lossless one is the original.
    """
    say = progress or (lambda _: None)
    out = Bench([], [], seconds, model, dict(missing or {}))
    for i, path in enumerate(records, 1):
        signal = load(path, seconds)
        out.records.append(signal.record_name)
        say(f"[{i}/{len(records)}] {signal.record_name}: {signal.n_channels} lead(s), {signal.duration:.1f} s, "
            f"{len(methods)} settings")
        reference = reference_beats(path, signal.n_samples) if beats else None
        if reference is not None:
            out.original_beats[signal.record_name] = score_beats(reference, detect_beats(signal), signal.fs)
        for codec, group in groupby(methods, key=lambda m: m.codec):
            started, settings = time.perf_counter(), list(group)
            for method in settings:
                try:
                    row, decoded = measure(method, signal)
                except Unsupported as e:
                    where = f"{method.name} on {signal.record_name}"
                    out.missing[where] = f"{where}: {e}"
                    continue
                if reference is not None and not method.lossless:
                    row.sensitivity, row.ppv = score_beats(reference, detect_beats(decoded), signal.fs)
                if keep == (signal.record_name, method.name):
                    out.kept = (signal, decoded, row)
                out.rows.append(row)
            say(f"[{i}/{len(records)}] {signal.record_name}: {codec}, {len(settings)} setting(s) in "
                f"{time.perf_counter() - started:.1f} s")
    return out


# -- summaries ------------------------------------------------------------------------------------------
NUMERIC = [f.name for f in fields(Row) if f.type == "float"]
"""Row columns averaged over records."""


def _nanmean(values: Sequence[float]) -> float:
    finite = [v for v in values if not math.isnan(v)]
    return float(np.mean(finite)) if finite else math.nan


def means(bench: Bench) -> list[Row]:
    """One row per method: the mean over records of every column, except CR (harmonic mean, i.e. the ADC
    bits over the mean bits/sample) and max |error| (the maximum)."""
    out = []
    for name in bench.methods():
        rows = [r for r in bench.rows if r.name == name]
        first = rows[0]
        mean = {col: _nanmean([getattr(r, col) for r in rows]) for col in NUMERIC}
        mean["cr"] = len(rows) / sum(1 / r.cr for r in rows) if all(r.cr > 0 for r in rows) else math.nan
        mean["max_err"] = max(r.max_err for r in rows)
        out.append(Row(codec=first.codec, setting=first.setting, lossless=first.lossless, record="mean", **mean))
    return out


def cr_at_prdn(prdn: Sequence[float], cr: Sequence[float], targets: Sequence[float] = MATCHED_PRDN) -> list[float]:
    """CR at each target PRDN: log(CR) interpolated linearly in PRDN between settings; NaN out of their range.

    Settings beaten on both counts by another (higher CR at lower PRDN) are left out: no one would pick them.
    """
    points = sorted((p, math.log(c)) for p, c in zip(prdn, cr) if math.isfinite(p) and c > 0 and math.isfinite(c))
    frontier: list[tuple[float, float]] = []
    for p, y in points:
        if not frontier or y > frontier[-1][1]:
            frontier.append((p, y))
    if not frontier:
        return [math.nan for _ in targets]
    xs, ys = zip(*frontier)
    return [math.exp(float(np.interp(t, xs, ys))) if xs[0] <= t <= xs[-1] else math.nan for t in targets]


def matched(mean_rows: Sequence[Row], targets: Sequence[float] = MATCHED_PRDN) -> dict[str, list[float]]:
    """{lossy codec: its CR at each target PRDN}, from the mean-over-records rows of its settings."""
    out = {}
    for codec in dict.fromkeys(r.codec for r in mean_rows if not r.lossless):
        rows = [r for r in mean_rows if r.codec == codec]
        out[codec] = cr_at_prdn([r.prdn for r in rows], [r.cr for r in rows], targets)
    return out


def original_mean(bench: Bench) -> tuple[float, float]:
    """The original's (Se, +P), mean over annotated records."""
    scores = list(bench.original_beats.values())
    return _nanmean([se for se, _ in scores]), _nanmean([p for _, p in scores])


def beat_means(bench: Bench) -> list[tuple[str, float, float, float, float]]:
    """(method, Se, +P, Se - original's, +P - original's) in percent, means over annotated records; the
    original's own scores come first."""
    if not bench.original_beats:
        return []
    se0, p0 = original_mean(bench)
    out = [("original", 100 * se0, 100 * p0, 0.0, 0.0)]
    for name in bench.methods():
        rows = [r for r in bench.rows if r.name == name and r.record in bench.original_beats and not r.lossless]
        if rows:
            se, p = _nanmean([r.sensitivity for r in rows]), _nanmean([r.ppv for r in rows])
            out.append((name, 100 * se, 100 * p, 100 * (se - se0), 100 * (p - p0)))
    return out


def _records(n: int) -> str:
    return f"{n} record{'' if n == 1 else 's'}"


def rd_curves(mean_rows: Sequence[Row]) -> dict[str, list[tuple[float, float, str]]]:
    """{codec: [(PRDN %, bits/sample, setting), ...]} of the mean rows, for the rate/distortion plot; each lossless
    setting is its own one-point curve."""
    out: dict[str, list[tuple[float, float, str]]] = {}
    for r in mean_rows:
        key = r.codec if not r.lossless else r.name
        out.setdefault(key, []).append((r.prdn, r.bits_per_sample, "" if r.lossless else r.setting))
    return out


# -- output ---------------------------------------------------------------------------------------------
def _num(x: float, spec: str) -> str:
    return "NaN" if isinstance(x, float) and math.isnan(x) else format(x, spec)


COLUMNS = ("method", "record", "bytes", "CR", "bits/sample", "bits/s", "PRD %", "PRDN %", "SNR dB", "max error",
           "encode Msamples/s", "decode Msamples/s", "Se % (Δ)", "+P % (Δ)")


def _beat_cells(r: Row, original: tuple[float, float] | None) -> tuple[str, str]:
    """'Se (difference from the original's)' and the same for +P, in percent; blank when not scored."""
    if original is None or (math.isnan(r.sensitivity) and math.isnan(r.ppv)):
        return "", ""
    return tuple(f"{_num(100 * v, '.2f')} ({_num(100 * (v - v0), '+.2f')})"  # type: ignore[return-value]
                 for v, v0 in zip((r.sensitivity, r.ppv), original))


def _table_rows(rows: Sequence[Row], originals: dict[str, tuple[float, float]]) -> list[str]:
    """Markdown table of rows; originals = {record: the original's (Se, +P)} for the beat columns."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for r in rows:
        beats = _beat_cells(r, originals.get(r.record))
        cells = (r.name, r.record, _num(r.n_bytes, ".0f"), _num(r.cr, ".2f"), _num(r.bits_per_sample, ".3f"),
                 _num(r.bits_per_second, ".1f"), _num(r.prd, ".3f"), _num(r.prdn, ".2f"), _num(r.snr, ".1f"),
                 _num(r.max_err, ".4g"), _num(r.encode_sps / MEGA, ".3g"), _num(r.decode_sps / MEGA, ".3g"), *beats)
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def markdown(bench: Bench) -> str:
    """The report: mean table, CR at matched PRDN, beat fidelity, per-record table, notes."""
    mean_rows = means(bench)
    span = f"first {bench.seconds:g} s of each" if bench.seconds else "whole records"
    out = [f"Records ({len(bench.records)}, {span}): {' '.join(bench.records)}"]
    if bench.model:
        out.append(f"vqcodec model: {bench.model}")
    out += [f"Skipped: {why}" for why in bench.missing.values()]
    out += ["", f"## Mean over {_records(len(bench.records))}", ""] + _table_rows(
        mean_rows, {"mean": original_mean(bench)} if bench.original_beats else {})
    out += ["", "CR is against the ADC resolution; in this table it is the harmonic mean over records (ADC bits "
            "/ mean bits per sample), max error (physical units) the maximum over records, the rest plain "
            "means. PRD/PRDN/SNR are means over channels, then records; speeds count samples of all leads."]
    targets = MATCHED_PRDN
    out += ["", "## CR at matched PRDN", "",
            "| method | " + " | ".join(f"PRDN {t:g} %" for t in targets) + " | PRDN range of settings |",
            "|" + "---|" * (len(targets) + 2)]
    for codec, crs in matched(mean_rows, targets).items():
        prdns = [r.prdn for r in mean_rows if r.codec == codec]
        out.append(f"| {codec} | " + " | ".join(_num(c, ".2f") for c in crs)
                   + f" | {_num(min(prdns), '.2f')}–{_num(max(prdns), '.2f')} % |")
    out += ["", "log(CR) interpolated linearly against PRDN between each method's settings, using the mean over "
            "records of each setting and leaving out settings that another beats on both CR and PRDN; NaN outside "
            "the range its settings reach."]
    beat_rows = beat_means(bench)
    if beat_rows:
        out += ["", f"## Beat fidelity ({len(bench.original_beats)} annotated records)", "",
                "| method | Se % | +P % | ΔSe (points) | Δ+P (points) |", "|---|---|---|---|---|"]
        out += [f"| {n} | {_num(se, '.2f')} | {_num(p, '.2f')} | {_num(dse, '+.2f')} | {_num(dp, '+.2f')} |"
                for n, se, p, dse, dp in beat_rows]
        out += ["", f"QRS detection by {DETECTOR} on lead {BEAT_LEAD} of the original and of each reconstruction, "
                f"scored against the reference beat annotations ({''.join(sorted(BEAT_SYMBOLS))}) with "
                f"wfdb.processing.compare_annotations, {BEAT_WINDOW_S * 1000:g} ms window; mean over annotated "
                "records. Lossless methods reproduce the original, so their scores are the original's."]
        orig = [f"{rec} {100 * se:.2f}/{100 * p:.2f}" for rec, (se, p) in bench.original_beats.items()]
        out.append(f"Original Se/+P % per record: {', '.join(orig)}.")
    out += ["", "## Per record", ""] + _table_rows(bench.rows, bench.original_beats)
    out += ["", "Se/+P: QRS detection on each lossy reconstruction (see Beat fidelity), in brackets the difference "
            "from the original's, in points. vqcodec's encode time includes the decode it runs to measure the "
            "file's distortion."]
    return "\n".join(out) + "\n"


def _finite(x: object) -> object:
    """JSON-safe value: NaN/inf floats become None, containers recursively."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_finite(v) for v in x]
    return x


def to_json(bench: Bench, command: str | None = None) -> str:
    """Every row, the means, the matched-PRDN CRs and the beat scores, as JSON (NaN -> null)."""
    mean_rows = means(bench)
    doc = {
        "command": command, "records": bench.records, "seconds": bench.seconds, "model": bench.model,
        "missing": bench.missing,
        "rows": [asdict(r) for r in bench.rows], "mean": [asdict(r) for r in mean_rows],
        "matched_prdn": {"targets": list(MATCHED_PRDN), "cr": matched(mean_rows)},
        "beats": {
            "detector": DETECTOR, "lead": BEAT_LEAD, "window_s": BEAT_WINDOW_S,
            "original": {rec: {"sensitivity": se, "ppv": p} for rec, (se, p) in bench.original_beats.items()},
            "mean": [dict(zip(("method", "sensitivity", "ppv", "delta_sensitivity", "delta_ppv"), b))
                     for b in beat_means(bench)],
        },
    }
    return json.dumps(_finite(doc), indent=1)


def write_plots(bench: Bench, folder: Path, prefix: str = "",
                window: tuple[float, float] = OVERLAY_WINDOW) -> list[Path]:
    """The rate/distortion figure and, when a reconstruction was kept, its overlay; returns the files."""
    from vqcodec.bench import plot

    folder.mkdir(parents=True, exist_ok=True)
    rd = folder / f"{prefix}rate_distortion.png"
    span = f"first {bench.seconds:g} s of " if bench.seconds else ""
    plot.rate_distortion(rd_curves(means(bench)), rd, f"Mean over {span}{_records(len(bench.records))}")
    written = [rd]
    if bench.kept is not None:
        original, decoded, row = bench.kept
        slug = "".join(ch if ch.isalnum() else "-" for ch in row.name)
        path = folder / f"{prefix}overlay_{row.record}_{slug}.png"
        ch = original.channels[PLOT_LEAD]
        title = f"{row.record} lead {ch.name}: {row.name}, CR {row.cr:.2f}, PRDN {row.prdn:.2f} %"
        plot.overlay(original.samples[:, PLOT_LEAD], decoded.samples[:, PLOT_LEAD], original.fs, window, title,
                     path, ch.units)
        written.append(path)
    return written

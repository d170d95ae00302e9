"""EDF and BDF files made with pyedflib from real records (MIT-BIH 100, a LUDB record) plus signals that are not ECG at
other rates, and EDF headers damaged on purpose, for the tests of vqcodec.io.edf; neighbour of records.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.helpers.records import mitdb_path
from vqcodec.io.wfdb import read_wfdb

LUDB = Path("ecg", "ludb", "data")
"""LUDB's records under the data root (VQCODEC_DATA)."""
PATIENT = "MCH-0234567 F 02-MAY-1951 Haagse_Harry"
RECORDING = "Startdate 02-MAR-2002 PSG-1234/2002 NN Telemetry03"


def _fit8(x: float) -> float:
    """x rounded so that it fits EDF's 8-character number fields (pyedflib warns and cuts it otherwise)."""
    for decimals in range(6, -1, -1):
        if len(str(round(x, decimals))) <= 8:
            return round(x, decimals)
    return float(round(x))


def _resp(n: int, fs: float, seed: int) -> np.ndarray:
    """A breathing-like signal (0.25 Hz with drift and noise), in digital units."""
    t = np.arange(n) / fs
    rng = np.random.default_rng(seed)
    return np.rint(3000 * np.sin(2 * np.pi * 0.25 * t) + 400 * np.sin(2 * np.pi * 0.03 * t)
                   + rng.normal(0, 30, n)).astype(np.int64)


def make_edf(path: Path, data_root: Path, seconds: int = 20, bdf: bool = False, annotations: bool = True,
             record: str = "100") -> Path:
    """An EDF+ (or BDF+) file of MIT-BIH `record`'s two ECG leads (360 Hz, 1 s data records), a respiration signal at
    25 Hz and a blood pressure at 120 Hz (not ECG), patient and recording fields set, and (with `annotations`) three
    annotations. Samples are written digital, so the file holds exactly the record's ADC values."""
    import pyedflib

    sig = read_wfdb(mitdb_path(data_root, record))
    n = seconds * 360
    ecg = sig.digital()[:n]
    shift = 1 << 8 if bdf else 0  # BDF: values beyond 16 bits, to show the 24 bits survive
    dmax = (1 << 23) - 1 if bdf else 32767
    headers = [{"label": f"ECG {ch.name}", "dimension": "mV", "sample_frequency": 360,
                "physical_min": _fit8((-dmax - ch.baseline) / ch.gain),
                "physical_max": _fit8((dmax - ch.baseline) / ch.gain), "digital_min": -dmax, "digital_max": dmax,
                "transducer": "AgAgCl electrode", "prefilter": "HP:0.1Hz LP:100Hz"} for ch in sig.channels]
    headers.append({"label": "Resp chest", "dimension": "uV", "sample_frequency": 25, "physical_min": -5000.0,
                    "physical_max": 5000.0, "digital_min": -dmax, "digital_max": dmax,
                    "transducer": "strain gauge belt", "prefilter": "HP:0.05Hz"})
    headers.append({"label": "BP finger", "dimension": "mmHg", "sample_frequency": 120, "physical_min": 0.0,
                    "physical_max": 300.0, "digital_min": -dmax, "digital_max": dmax, "transducer": "Finapres",
                    "prefilter": ""})
    digital = [ecg[:, c] * (shift or 1) for c in range(ecg.shape[1])]
    digital.append(_resp(seconds * 25, 25.0, 1) * (shift or 1))
    bp = np.rint(9000 + 6000 * np.sin(2 * np.pi * 1.2 * np.arange(seconds * 120) / 120)).astype(np.int64)
    digital.append(bp * (shift or 1))
    filetype = pyedflib.FILETYPE_BDFPLUS if bdf else pyedflib.FILETYPE_EDFPLUS
    w = pyedflib.EdfWriter(str(path), len(headers), file_type=filetype)
    try:
        w.setSignalHeaders(headers)
        w.setPatientCode("MCH-0234567")
        w.setPatientName("Haagse_Harry")
        w.setSex(0)
        w.setTechnician("NN")
        w.setEquipment("Telemetry03")
        if annotations:
            w.writeAnnotation(1.5, -1, "lights off")
            w.writeAnnotation(7.25, 2.0, "arousal")
            w.writeAnnotation(15.0, -1, "Beat N")
        w.writeSamples([d.astype(np.int32) for d in digital], digital=True)
    finally:
        w.close()
    return path


def make_ludb_edf(path: Path, data_root: Path, record: str = "1") -> Path:
    """A plain EDF+ file of a LUDB record's 12 leads (500 Hz, 10 s), labelled by lead name only (i, ii, v1 ...)."""
    import pyedflib

    sig = read_wfdb(data_root / LUDB / record)
    d = sig.digital()
    headers = [{"label": ch.name.upper() if ch.name.lower() not in ("avr", "avl", "avf")
                else "a" + ch.name[1:].upper(), "dimension": "mV", "sample_frequency": int(sig.fs),
                "physical_min": _fit8((-32768 - ch.baseline) / ch.gain),
                "physical_max": _fit8((32767 - ch.baseline) / ch.gain),
                "digital_min": -32768, "digital_max": 32767, "transducer": "", "prefilter": ""}
               for ch in sig.channels]
    w = pyedflib.EdfWriter(str(path), len(headers), file_type=pyedflib.FILETYPE_EDFPLUS)
    try:
        w.setSignalHeaders(headers)
        w.writeSamples([d[:, c].astype(np.int32) for c in range(d.shape[1])], digital=True)
    finally:
        w.close()
    return path


def header_field(raw: bytes, at: int, width: int, text: str) -> bytes:
    """`raw` with the field at [at, at + width) set to `text`, padded with spaces."""
    return raw[:at] + text.encode("latin-1").ljust(width)[:width] + raw[at + width :]

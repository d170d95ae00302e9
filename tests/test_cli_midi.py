"""The CLI on MIDI files: compress .mid -> .vqc -> .mid, info, default names, --force, ECG-only flags, damage.

The CLI runs in-process through its real entry point (`vqcodec.cli.main`); failures are checked with the
bad-input catalog's `assert_fails_cleanly` (exit 1, one stderr line naming the file, no traceback, nothing
under the watched folder created or changed). One test runs `python -m vqcodec` as a user would.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from tests.helpers.bundles import copied_bundle
from tests.helpers.cli import CliResult, assert_fails_cleanly, snapshot
from tests.helpers.notes import assert_same_meta, random_performance
from vqcodec.container import format as vqc
from vqcodec.io import read_midi, write_midi
from vqcodec.io.midi import TICKS_PER_SECOND
from vqcodec.midi import choice as noterdo
from vqcodec.midi import coder as nc
from vqcodec.midi.codec import NoteCodec
from vqcodec.midi.performance import SOFT, SUSTAIN, MetaEvent, Pedal, Performance

HALF_TICK = 0.5 / TICKS_PER_SECOND
USAGE = 2


@pytest.fixture
def run(request: pytest.FixtureRequest) -> Callable[..., CliResult]:
    """`vqcodec ARGS` in-process -> CliResult: tests/test_bad_input.py's `cli` fixture."""
    return request.getfixturevalue("cli")


@pytest.fixture
def song(tmp_path: Path) -> Path:
    """inputs/song.mid: 120 notes with chords, a 5 s silence, a half-pedalled CC64 and an on/off CC67."""
    base = random_performance(120, seed=200, long_gaps=False, pedals=False, max_duration=2.0)
    onset = base.onset + np.where(np.arange(120) >= 60, 5.0, 0.0)
    rng = np.random.default_rng(201)
    end = float(onset[-1])
    perf = Performance(base.pitch, onset, onset + base.offset - base.onset, base.velocity,
                       {SUSTAIN: Pedal(np.sort(rng.uniform(0, end, 30)), rng.integers(0, 128, 30)),
                        SOFT: Pedal([1.0, 3.0], [127, 0])})
    (tmp_path / "inputs").mkdir()
    write_midi(tmp_path / "inputs" / "song.mid", perf)
    return tmp_path / "inputs" / "song.mid"


def onset_bound_s(quality: int | None = None) -> float:
    """The largest onset error the level may give a note (noterdo's tolerance)."""
    codec = NoteCodec.load("midi")
    return noterdo.onset_bound_ms(codec.setting(quality or codec.default_quality)) / 1000


def test_compress_prints_one_summary_line_and_info_shows_the_file(run, song: Path, tmp_path: Path) -> None:
    out = tmp_path / "song.vqc"
    result = run("compress", song, "-o", out)
    assert result.code == 0, result.stderr
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{out}: 120 notes, ")
    assert "bits/note" in lines[0] and "F1 1.0000" in lines[0]
    assert out.read_bytes()[:4] == b"\x89VQC"
    info = run("info", out)
    assert info.code == 0, info.stderr
    assert "kind:        midi" in info.stdout and "model:       midi-v2 sha256" in info.stdout
    assert "performance: 120 notes" in info.stdout and "bits/note" in info.stdout
    assert "notes:       F1 1.0000" in info.stdout and "quality:     3 (onsets on a 16 ms grid)" in info.stdout
    assert "pedals:      sustain (64) " in info.stdout and ", soft (67) " in info.stdout
    assert not any(ch in info.stdout for ch in "{}'")  # words and numbers, not Python dicts
    bits = float(next(x for x in info.stdout.splitlines() if "bits/note" in x).split()[1])
    assert bits == pytest.approx(8 * out.stat().st_size / 120, abs=0.01)
    as_json = json.loads(run("info", out, "--json").stdout)
    assert (as_json["kind"], as_json["n_samples"], as_json["quality"]) == ("midi", 120, 3)


@pytest.mark.parametrize("quality", [None, 1, 7])
def test_decompress_writes_a_midi_file_with_the_same_notes(run, song: Path, tmp_path: Path,
                                                           quality: int | None) -> None:
    out = tmp_path / "song.vqc"
    assert run("compress", song, "-o", out, *(["-q", quality] if quality else [])).code == 0
    result = run("decompress", out, "-o", tmp_path / "back.mid")
    assert result.code == 0, result.stderr
    assert result.stderr.strip() == f"{out}: wrote {tmp_path / 'back.mid'}"
    original, back = read_midi(song), read_midi(tmp_path / "back.mid")
    np.testing.assert_array_equal(np.sort(back.pitch), np.sort(original.pitch))
    assert np.max(np.abs(np.sort(back.onset) - np.sort(original.onset))) <= onset_bound_s(quality) + HALF_TICK + 1e-9
    assert sorted(back.pedals) == [SUSTAIN, SOFT]


@pytest.mark.parametrize("quality", [1, 3, 7])
def test_meta_events_and_pedal_depth_come_back(run, tmp_path: Path, quality: int) -> None:
    """A song with a tempo change, metre, key, a marker and a text in a third track: mido reads the same meta
    messages in the decoded .mid; the sustain keeps its depth on the level's pedal levels."""
    base = random_performance(60, seed=202, long_gaps=False, pedals=False, max_duration=2.0)
    rng = np.random.default_rng(203)
    end = float(base.onset[-1])
    meta = [MetaEvent(0.0, 0x51, (500000).to_bytes(3, "big")), MetaEvent(0.0, 0x58, bytes([6, 3, 24, 8])),
            MetaEvent(0.0, 0x59, bytes([3, 1])), MetaEvent(end / 3, 0x06, b"Coda"),
            MetaEvent(end / 2, 0x51, (700000).to_bytes(3, "big")), MetaEvent(end / 2 + 0.1, 0x01, b"rit.", 2)]
    perf = Performance(base.pitch, base.onset, base.offset, base.velocity,
                       {SUSTAIN: Pedal(np.sort(rng.uniform(0, end, 80)), rng.integers(0, 128, 80))}, meta=meta)
    (tmp_path / "in").mkdir()
    write_midi(tmp_path / "in" / "meta.mid", perf)
    out = tmp_path / "meta.vqc"
    assert run("compress", tmp_path / "in" / "meta.mid", "-o", out, "-q", quality).code == 0
    assert run("decompress", out, "-o", tmp_path / "back.mid").code == 0
    assert_same_meta(tmp_path / "in" / "meta.mid", tmp_path / "back.mid")
    back = read_midi(tmp_path / "back.mid")
    levels = NoteCodec.load("midi").pedal_levels(quality)
    values = set(back.pedals[SUSTAIN].value.tolist())
    assert 2 < len(values) and values <= set(nc.level_values(levels).tolist())


def test_default_output_names(run, song: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    assert run("compress", song).code == 0
    assert sorted(p.name for p in work.iterdir()) == ["song.vqc"]
    assert run("decompress", "song.vqc").code == 0  # the record name stored in the file, plus .mid
    assert sorted(p.name for p in work.iterdir()) == ["song.mid", "song.vqc"]
    assert np.array_equal(np.sort(read_midi(work / "song.mid").pitch), np.sort(read_midi(song).pitch))
    result = run("decompress", "song.vqc", "-o", "plain")  # an output without a MIDI suffix gets .mid
    assert result.code == 0 and (work / "plain.mid").is_file()


def test_existing_outputs_are_untouched_without_force(run, song: Path, tmp_path: Path) -> None:
    out = tmp_path / "song.vqc"
    out.write_bytes(b"precious")
    line = assert_fails_cleanly(lambda: run("compress", song, "-o", out), out, tmp_path)
    assert "already exists" in line and "--force" in line
    assert run("compress", song, "-o", out, "--force").code == 0
    mid = tmp_path / "back.mid"
    mid.write_bytes(b"precious too")
    assert_fails_cleanly(lambda: run("decompress", out, "-o", mid), mid, tmp_path)
    assert run("decompress", out, "-o", mid, "--force").code == 0
    assert len(read_midi(mid)) == 120


@pytest.mark.parametrize("flags", [("--lossless",), ("--max-error", "0"), ("--max-error", "3"),
                                   ("--max-prdn", "5"), ("--fs", "360")])
def test_ecg_only_flags_with_a_midi_file_are_usage_errors(run, song: Path, tmp_path: Path,
                                                          flags: tuple[str, ...]) -> None:
    before = snapshot(tmp_path)
    result = run("compress", song, "-o", tmp_path / "x.vqc", *flags)
    assert result.code == USAGE
    assert "MIDI takes --quality" in result.stderr and "Traceback" not in result.stderr + result.stdout
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("quality", ["9", "0"])
def test_a_quality_outside_the_ladder_fails_cleanly(run, song: Path, tmp_path: Path, quality: str) -> None:
    line = assert_fails_cleanly(lambda: run("compress", song, "-o", tmp_path / "x.vqc", "-q", quality), song,
                                tmp_path)
    assert "quality" in line


# --------------------------------------------------------------------------------------------- damaged files


def note_section(data: bytes) -> tuple[int, int]:
    """(start, end) of the NOTE section's payload in a .vqc file."""
    tag = data.index(b"NOTE")
    length = int.from_bytes(data[tag + 4 : tag + 8], "little")
    return tag + 8, tag + 8 + length


@pytest.fixture
def song_vqc(run, song: Path, tmp_path: Path) -> Path:
    out = tmp_path / "song.vqc"
    assert run("compress", song, "-o", out).code == 0
    return out


def test_note_section_is_where_the_format_says(song_vqc: Path) -> None:
    data = song_vqc.read_bytes()
    start, end = note_section(data)
    assert data[start : end] == vqc.loads(data).notes


@pytest.mark.parametrize("where", [0.0, 0.5, 0.99])
def test_a_flipped_byte_in_the_note_section_fails_cleanly(run, song_vqc: Path, tmp_path: Path,
                                                          where: float) -> None:
    data = bytearray(song_vqc.read_bytes())
    start, end = note_section(bytes(data))
    data[start + int(where * (end - start - 1))] ^= 0x20
    song_vqc.write_bytes(bytes(data))
    line = assert_fails_cleanly(lambda: run("decompress", song_vqc, "-o", tmp_path / "o.mid"), song_vqc, tmp_path)
    assert "CRC" in line or "checksum" in line.lower()


def test_damage_past_the_section_crc_is_caught_by_the_note_coder(run, song_vqc: Path, tmp_path: Path) -> None:
    """Rewrite the file around a damaged rANS word (container CRCs valid): the NOTE coder's own check refuses it."""
    f = vqc.loads(song_vqc.read_bytes())
    notes = bytearray(f.notes)
    notes[len(notes) // 2 + 8] ^= 0x01
    f.notes = bytes(notes)
    song_vqc.write_bytes(vqc.dumps(f))
    line = assert_fails_cleanly(lambda: run("decompress", song_vqc, "-o", tmp_path / "o.mid"), song_vqc, tmp_path)
    assert "NOTE stream" in line


@pytest.mark.parametrize("keep", [0.3, 0.9])
def test_a_truncated_midi_vqc_fails_cleanly(run, song_vqc: Path, tmp_path: Path, keep: float) -> None:
    data = song_vqc.read_bytes()
    song_vqc.write_bytes(data[: int(keep * len(data))])
    assert_fails_cleanly(lambda: run("decompress", song_vqc, "-o", tmp_path / "o.mid"), song_vqc, tmp_path)


def test_another_midi_bundle_given_with_model_fails_cleanly(run, song_vqc: Path, tmp_path: Path) -> None:
    other = copied_bundle(tmp_path / "models")
    shipped_id = NoteCodec.load("midi").model_id
    line = assert_fails_cleanly(lambda: run("decompress", song_vqc, "-o", tmp_path / "o.mid", "--model", other),
                                song_vqc, tmp_path)
    assert shipped_id in line and NoteCodec.load(other).model_id in line


def test_python_m_vqcodec_round_trips_a_midi_file(song: Path, tmp_path: Path) -> None:
    def vqcodec(*args: object) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "vqcodec", *map(str, args)], capture_output=True, text=True,
                              timeout=120, cwd=tmp_path, check=False)

    made = vqcodec("compress", song, "-o", "s.vqc", "-q", "5")
    assert made.returncode == 0 and len(made.stderr.strip().splitlines()) == 1, made.stderr
    back = vqcodec("decompress", "s.vqc", "-o", "s.mid")
    assert back.returncode == 0, back.stderr
    assert len(read_midi(tmp_path / "s.mid")) == 120


def test_bench_on_midi_files_compares_vqcodec_with_the_baselines(run, song: Path, tmp_path: Path) -> None:
    """`vqcodec bench` on a folder of .mid files: every baseline and each asked level, each row measured; --json
    holds one entry per method and piece."""
    out = tmp_path / "bench.json"
    result = run("bench", song.parent, "-q", "1", "-q", "3", "--json", out)
    assert result.code == 0, result.stderr
    rows = {line.split(" | ")[0].lstrip("| ") for line in result.stdout.splitlines() if line.startswith("| ")}
    assert {".mid file", "zstd -19 of the .mid", "vqcodec q=1", "vqcodec q=3 (default)"} <= rows
    entries = json.loads(out.read_text())
    assert {e["method"] for e in entries} >= {"vqcodec q=1", "note table 1 ms + zstd"}
    q3 = next(e for e in entries if e["method"] == "vqcodec q=3")
    assert q3["pitch_exact"] and q3["f1_onset"] == 1.0 and q3["onset_err_ms_max"] <= 1000 * onset_bound_s(3) + 0.2

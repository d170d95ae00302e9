"""A record kept whole: its annotation files (aNNO) at every quality, and with --lossless its original .hea and .dat,
come back byte for byte; bad annotation files and damaged sections give clear errors (format 1.9)."""

from __future__ import annotations

import filecmp
import json
import shutil
import struct
import warnings
from pathlib import Path

import numpy as np
import pytest
import wfdb
import zstandard

import vqcodec
from tests.helpers.cli import Runner, assert_fails_cleanly
from tests.helpers.signals import make_signal
from vqcodec.container import format as vqc
from vqcodec.ecg import file as ecg_file
from vqcodec.errors import ChecksumError, FormatError, InputError, LimitError
from vqcodec.io.annotations import find_annotations, read_annotations
from vqcodec.io.wfdb import renamed_header, write_wfdb
from vqcodec.models.bundle import ALIASES, installed_models

GOLDEN = Path(__file__).parent / "data" / "golden" / "v1.9-annotations"
"""A record with a header written by hand (synth.hea, CRLF, no baselines) and two annotation files (atr, qrs)."""
RECORD_FILES = ("synth.hea", "synth.dat", "synth.atr", "synth.qrs")


@pytest.fixture
def synth(tmp_path: Path) -> Path:
    """A copy of the golden record's files in a folder of their own, plus files that are no annotation files."""
    folder = tmp_path / "src"
    folder.mkdir()
    for name in RECORD_FILES:
        shutil.copy(GOLDEN / name, folder / name)
    (folder / "synth.txt").write_text("notes on the record\n")
    (folder / "synth.xyz").write_bytes(b"ab" * 20)  # even-sized, but not ending in WFDB's zero word
    (folder / "synth.vqc").write_bytes(b"\x89VQC")
    return folder / "synth"


def _same(a: Path, b: Path, names: list[str]) -> list[str]:
    """The names whose files differ between folders a and b (filecmp, byte for byte)."""
    return [n for n in names if not filecmp.cmp(a / n, b / n, shallow=False)]


# ------------------------------------------------------------------ finding and checking the files


def test_the_annotation_files_beside_a_record_are_found_and_nothing_else(synth: Path) -> None:
    files = find_annotations(synth)
    assert files == {"atr": (GOLDEN / "synth.atr").read_bytes(), "qrs": (GOLDEN / "synth.qrs").read_bytes()}


def test_a_known_annotator_that_cannot_be_read_is_warned_about_and_left_out(synth: Path) -> None:
    (synth.parent / "synth.ecg").write_bytes(b"\x00\x00")  # an annotation file's shape: wfdb reads no annotation
    (synth.parent / "synth.man").write_bytes(b"not an annotation file\n")
    said: list[str] = []
    files = find_annotations(synth, said)
    assert "man" not in files and len(said) == 1 and "synth.man" in said[0]


def test_named_annotation_files_are_read_and_a_bad_one_is_an_error_naming_it(synth: Path) -> None:
    assert list(read_annotations(synth, ["qrs"])) == ["qrs"]
    with pytest.raises(InputError, match=r"synth\.txt: not an annotation file"):
        read_annotations(synth, ["atr", "txt"])
    with pytest.raises(InputError, match=r"synth\.pu0: no such annotation file"):
        read_annotations(synth, ["pu0"])
    with pytest.raises(InputError, match="not an annotator name"):
        read_annotations(synth, ["../x"])


def test_the_header_text_is_renamed_on_its_name_fields_only() -> None:
    text = (GOLDEN / "synth.hea").read_bytes()
    renamed = renamed_header(text, "synth", "other")
    assert renamed.split(b"\r\n")[:3] == [b"other 2 360 1000", *[line.replace(b"synth.dat", b"other.dat")
                                                               for line in text.split(b"\r\n")[1:3]]]
    assert renamed.split(b"\r\n")[3:] == text.split(b"\r\n")[3:]  # the comment, and the line ends
    assert renamed_header(text, "synth", "synth") == text


# ------------------------------------------------------------------ the sections


@pytest.fixture
def lossless(codec, synth: Path) -> bytes:
    sig = vqcodec.read(synth)
    return ecg_file.with_record_files(codec.compress(sig, max_error=0).data, find_annotations(synth),
                                      (synth.parent / "synth.hea").read_bytes())


def test_a_file_keeps_the_annotation_files_and_a_lossless_one_its_header(codec, synth: Path, lossless: bytes) -> None:
    f = vqc.loads(lossless)
    assert lossless[10] == ecg_file.RESIDUAL_BLOCKS_MINOR and f.bound  # its residual layer in blocks: 1.11
    assert f.annotations == find_annotations(synth) == vqcodec.annotations(lossless)
    assert f.wfdb_header == (synth.parent / "synth.hea").read_bytes()
    lossy = codec.compress(vqcodec.read(synth), 2).data
    assert ecg_file.with_record_files(lossy) == lossy and lossy[10] == vqc.BIND_MINOR  # nothing kept: 1.8 as before
    kept = vqc.loads(ecg_file.with_record_files(lossy, {"atr": b"\x00\x00"}, b"header"))
    assert kept.annotations == {"atr": b"\x00\x00"} and kept.wfdb_header is None  # a lossy file writes its own
    found = vqcodec.info(lossless)
    assert found.annotations == {"atr": 8, "qrs": 12} and found.header_bytes == 188
    assert any(line.startswith("annotations: atr (8 bytes), qrs (12 bytes)") for line in found.lines())


def test_a_file_before_1_9_keeps_no_annotations() -> None:
    data = (GOLDEN.parent / "v1.8" / "ecg_lossless.vqc").read_bytes()
    assert vqcodec.annotations(data) == {} and vqcodec.info(data).annotations == {}


def _with_sections(data: bytes, edit) -> bytes:
    """The file written again after edit(sections) changed its (tag, payload) list."""
    f = vqc.loads(data)
    h, sections = ecg_file._write(f, vqc.ZSTD_LEVEL)
    return vqc.write(h, edit(list(sections)))


def _replace(tag: str, payload: bytes):
    return lambda sections: [(t, payload if t == tag else p) for t, p in sections]


def test_an_annotation_section_that_breaks_its_rules_is_refused(lossless: bytes) -> None:
    anno = dict(ecg_file._write(vqc.loads(lossless), vqc.ZSTD_LEVEL)[1])[ecg_file.TAG_ANNO]
    bad = {
        "not an annotator name": anno[:3] + b"a/r" + anno[6:],
        "not in strictly increasing order": anno[:2] + anno[10:18] + anno[2:10] + anno[18:],
        "zstd content size 18, the index says 20": anno[:18] + zstandard.ZstdCompressor().compress(b"\x00" * 18),
        "1..64": struct.pack("<H", 0) + anno[2:],
    }
    for why, payload in bad.items():
        with pytest.raises(FormatError, match=why):
            vqc.loads(_with_sections(lossless, _replace(ecg_file.TAG_ANNO, payload)))
    with pytest.raises(LimitError, match="limit 10"):
        vqc.loads(lossless, limits=vqc.Limits(max_annotation_bytes=10))


def test_a_header_section_in_a_lossy_file_is_refused(codec, synth: Path) -> None:
    lossy = codec.compress(vqcodec.read(synth), 2).data
    forged = _with_sections(lossy, lambda sections: sections + [(ecg_file.TAG_WHEA, b"synth 2 360 1000\r\n")])
    with pytest.raises(FormatError, match="wHEA keeps the original header of a lossless file"):
        vqc.loads(forged)


def _damage(data: bytes, tag: str) -> bytes:
    """The file with one byte flipped in the middle of section `tag`'s payload."""
    c = vqc.read(data)
    view = c.sections[tag]
    at = data.index(bytes(view)) + len(view) // 2
    out = bytearray(data)
    out[at] ^= 0x10
    return bytes(out)


@pytest.mark.parametrize("tag", [ecg_file.TAG_ANNO, ecg_file.TAG_WHEA])
def test_a_damaged_section_is_an_error_and_salvage_decodes_the_signal_without_it(codec, lossless: bytes,
                                                                                 tag: str) -> None:
    damaged = _damage(lossless, tag)
    with pytest.raises(ChecksumError, match=f"section {tag} CRC mismatch"):
        vqc.loads(damaged)
    f = vqc.loads(damaged, salvage=True)
    assert (f.annotations == {}) == (tag == ecg_file.TAG_ANNO) and (f.wfdb_header is None) == (tag == ecg_file.TAG_WHEA)
    assert any(d.startswith(f"section {tag} CRC mismatch") for d in f.damage)
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        out = vqcodec.decompress(damaged, codec, salvage=True)
    np.testing.assert_array_equal(out.samples, vqcodec.decompress(lossless, codec).samples)


# ------------------------------------------------------------------ the command line


def test_compress_and_decompress_give_back_the_annotation_files_at_a_quality_level(cli: Runner, synth: Path,
                                                                                   tiny_bundle: Path,
                                                                                   tmp_path: Path) -> None:
    out = tmp_path / "q.vqc"
    assert cli("compress", synth, "-o", out, "-m", tiny_bundle, "-q", "2").code == 0
    said = cli("info", out).stdout
    assert "annotations: atr (8 bytes), qrs (12 bytes)" in said and "header:" not in said
    result = cli("decompress", out, "-o", tmp_path / "back" / "synth", "-m", tiny_bundle)
    assert result.code == 0 and "back/synth.atr" in result.stderr
    assert _same(synth.parent, tmp_path / "back", ["synth.atr", "synth.qrs"]) == []
    assert not (tmp_path / "back" / "synth.txt").exists()
    assert (tmp_path / "back" / "synth.hea").read_bytes() != (synth.parent / "synth.hea").read_bytes()  # wfdb's own
    result = cli("decompress", out, "-o", tmp_path / "other" / "renamed", "-m", tiny_bundle)
    assert result.code == 0
    for ext in ("atr", "qrs"):  # an annotation file holds no record name: the same bytes under the new name
        assert (tmp_path / "other" / f"renamed.{ext}").read_bytes() == (synth.parent / f"synth.{ext}").read_bytes()
        assert len(wfdb.rdann(str(tmp_path / "other" / "renamed"), ext).sample) == 3


def test_lossless_gives_back_the_header_and_dat_byte_for_byte(cli: Runner, synth: Path, tiny_bundle: Path,
                                                             tmp_path: Path) -> None:
    out = tmp_path / "l.vqc"
    assert cli("compress", f"{synth}.hea", "-o", out, "-m", tiny_bundle, "--lossless").code == 0
    assert "header:      the original .hea (188 bytes)" in cli("info", out).stdout
    assert cli("decompress", out, "-o", f"{tmp_path / 'back'}/", "-m", tiny_bundle).code == 0
    assert _same(synth.parent, tmp_path / "back", list(RECORD_FILES)) == []
    assert cli("decompress", out, "-o", tmp_path / "renamed" / "r2", "-m", tiny_bundle).code == 0  # name fields only
    got = (tmp_path / "renamed" / "r2.hea").read_bytes()
    assert got == renamed_header((synth.parent / "synth.hea").read_bytes(), "synth", "r2")
    assert filecmp.cmp(tmp_path / "renamed" / "r2.dat", synth.parent / "synth.dat", shallow=False)
    assert vqcodec.read(tmp_path / "renamed" / "r2").samples.shape == (1000, 2)


def test_a_lossless_file_keeps_no_header_for_a_subset_of_channels(cli: Runner, synth: Path, tiny_bundle: Path,
                                                                  tmp_path: Path) -> None:
    out = tmp_path / "c.vqc"
    assert cli("compress", synth, "-o", out, "-m", tiny_bundle, "--lossless", "--channels", "ch1").code == 0
    assert vqcodec.info(out).header_bytes is None and vqcodec.info(out).annotations


def test_a_stored_header_that_does_not_describe_the_dat_gives_way_to_vqcodecs(codec, synth: Path,
                                                                             tmp_path: Path) -> None:
    sig = vqcodec.read(synth)
    wrong = (synth.parent / "synth.hea").read_bytes().replace(b"synth.dat 212", b"synth.dat 16")
    with pytest.warns(UserWarning, match="original header is not written"):
        write_wfdb(tmp_path / "synth", sig, header_text=wrong)
    assert (tmp_path / "synth.hea").read_bytes() != wrong
    np.testing.assert_array_equal(vqcodec.read(tmp_path / "synth").samples, sig.samples)


def test_no_annotations_and_named_annotations(cli: Runner, synth: Path, tiny_bundle: Path, tmp_path: Path) -> None:
    assert cli("compress", synth, "-o", tmp_path / "n.vqc", "-m", tiny_bundle, "--no-annotations").code == 0
    assert vqcodec.annotations(tmp_path / "n.vqc") == {}
    assert cli("compress", synth, "-o", tmp_path / "a.vqc", "-m", tiny_bundle, "--annotations", "qrs").code == 0
    assert list(vqcodec.annotations(tmp_path / "a.vqc")) == ["qrs"]
    both = cli("compress", synth, "-o", tmp_path / "b.vqc", "--annotations", "atr", "--no-annotations")
    assert both.code == 2 and "contradict" in both.stderr


def test_a_named_annotation_file_wfdb_cannot_read_is_a_one_line_error(cli: Runner, synth: Path, tiny_bundle: Path,
                                                                      tmp_path: Path) -> None:
    line = assert_fails_cleanly(lambda: cli("compress", synth, "-o", tmp_path / "x.vqc", "-m", tiny_bundle,
                                            "--annotations", "atr,txt"), synth.parent / "synth.txt", tmp_path)
    assert "not an annotation file" in line


def test_a_damaged_annotation_section_fails_and_salvage_writes_the_signal(cli: Runner, lossless: bytes,
                                                                          tiny_bundle: Path, tmp_path: Path) -> None:
    path = tmp_path / "d.vqc"
    path.write_bytes(_damage(lossless, ecg_file.TAG_ANNO))
    line = assert_fails_cleanly(lambda: cli("decompress", path, "-o", f"{tmp_path / 'out'}/", "-m", tiny_bundle),
                                path, tmp_path)
    assert "section aNNO CRC mismatch" in line and "--salvage" in line
    with pytest.warns(UserWarning, match=r"salvage: section aNNO CRC mismatch \(the annotation files are left out"):
        result = cli("decompress", path, "-o", f"{tmp_path / 'out'}/", "-m", tiny_bundle, "--salvage")
    assert result.code == 0 and "SALVAGED" in result.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["synth.dat", "synth.hea"]


def test_a_range_writes_no_annotation_file_and_says_so(cli: Runner, lossless: bytes, tiny_bundle: Path,
                                                       tmp_path: Path) -> None:
    path = tmp_path / "r.vqc"
    path.write_bytes(lossless)
    result = cli("decompress", path, "-o", f"{tmp_path / 'out'}/", "-m", tiny_bundle, "--start", "1", "--end", "2")
    assert result.code == 0 and "annotation files atr, qrs not written" in result.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["synth.dat", "synth.hea"]


def test_an_existing_annotation_file_stops_decompress_before_anything_is_written(cli: Runner, lossless: bytes,
                                                                                 tiny_bundle: Path,
                                                                                 tmp_path: Path) -> None:
    path = tmp_path / "e.vqc"
    path.write_bytes(lossless)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "synth.qrs").write_bytes(b"precious")
    assert_fails_cleanly(lambda: cli("decompress", path, "-o", f"{tmp_path / 'out'}/", "-m", tiny_bundle),
                         tmp_path / "out" / "synth.qrs", tmp_path)
    assert cli("decompress", path, "-o", f"{tmp_path / 'out'}/", "-m", tiny_bundle, "-f").code == 0
    assert (tmp_path / "out" / "synth.qrs").read_bytes() == (GOLDEN / "synth.qrs").read_bytes()


def test_a_batch_keeps_the_annotation_files_and_resume_wants_them(cli: Runner, synth: Path, tiny_bundle: Path,
                                                                  tmp_path: Path) -> None:
    write_wfdb(synth.parent / "plain", make_signal(2000, channels=2))  # a record without annotation files
    assert cli("compress", f"{synth.parent}/", "-o", f"{tmp_path / 'vqc'}/", "-m", tiny_bundle, "--lossless").code == 0
    assert cli("decompress", f"{tmp_path / 'vqc'}/", "-o", f"{tmp_path / 'back'}/", "-m", tiny_bundle).code == 0
    assert _same(synth.parent, tmp_path / "back", list(RECORD_FILES)) == []
    assert sorted(p.name for p in (tmp_path / "back").iterdir() if p.name.startswith("plain")) == ["plain.dat",
                                                                                                   "plain.hea"]
    (tmp_path / "back" / "synth.atr").unlink()  # as a process killed before it wrote them leaves it
    result = cli("decompress", f"{tmp_path / 'vqc'}/", "-o", f"{tmp_path / 'back'}/", "-m", tiny_bundle, "--resume")
    assert result.code == 0 and "removed the incomplete output" in result.stderr
    assert _same(synth.parent, tmp_path / "back", list(RECORD_FILES)) == []


# ------------------------------------------------------------------ real records (VQCODEC_DATA)


needs_model = pytest.mark.skipif(ALIASES["ecg"] not in installed_models(),
                                 reason="the default ECG model is not shipped")


def _round_trip(cli: Runner, source: Path, tmp_path: Path, *settings: str) -> Path:
    """compress the record at `source` with the shipped model and decompress it into a folder; that folder."""
    out, back = tmp_path / f"{source.name}.vqc", tmp_path / "back"
    result = cli("compress", source, "-o", out, *settings)
    assert result.code == 0, result.stderr
    result = cli("decompress", out, "-o", f"{back}/")
    assert result.code == 0, result.stderr
    return back


REAL = [("mitdb", "100"), ("qtdb", "sel16265"), ("ludb/data", "1")]
"""MIT-BIH 100 (.atr), a QT database record (its .atr; a header with a counter frequency, 250/128) and an LUDB record
(12 annotation files, one per lead, fmt 16)."""


@needs_model
@pytest.mark.parametrize("lossless", [False, True], ids=["default-level", "lossless"])
@pytest.mark.parametrize(("db", "name"), REAL, ids=[n for _, n in REAL])
def test_real_records_come_back_with_every_annotation_file(cli: Runner, data_dir: Path, tmp_path: Path, db: str,
                                                           name: str, lossless: bool) -> None:
    source = data_dir / "ecg" / db / name
    kept = sorted(p.name for p in source.parent.glob(f"{name}.*") if p.suffix not in (".hea", ".dat"))
    assert kept, f"{source} has no annotation file"
    back = _round_trip(cli, source, tmp_path, *(["--lossless"] if lossless else []))
    assert _same(source.parent, back, kept) == []
    assert sorted(p.name for p in back.iterdir()) == sorted(kept + [f"{name}.hea", f"{name}.dat"])
    same = _same(source.parent, back, [f"{name}.hea", f"{name}.dat"])
    assert same == ([] if lossless else [f"{name}.hea", f"{name}.dat"])


@needs_model
def test_a_batch_of_real_records_keeps_their_annotation_files(cli: Runner, data_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "records"
    folder.mkdir()
    for db, name in REAL[1:]:
        for path in (data_dir / "ecg" / db).glob(f"{name}.*"):
            (folder / path.name).symlink_to(path.resolve())  # VQCODEC_DATA may be relative
    for settings in ([], ["--lossless"]):
        out, back = tmp_path / f"vqc{len(settings)}", tmp_path / f"back{len(settings)}"
        assert cli("compress", f"{folder}/", "-o", f"{out}/", "--jobs", "2", *settings).code == 0
        assert cli("decompress", f"{out}/", "-o", f"{back}/", "--jobs", "2").code == 0
        names = sorted(p.name for p in folder.iterdir())
        assert sorted(p.name for p in back.iterdir()) == names
        differ = _same(folder, back, names)
        assert differ == ([] if settings else ["1.dat", "1.hea", "sel16265.dat", "sel16265.hea"])
        summary = json.loads(json.dumps(vqcodec.info(out / "1.vqc").to_dict()))
        assert len(summary["annotations"]) == 12


@pytest.mark.parametrize(("db", "name"), REAL, ids=[n for _, n in REAL])
def test_both_writers_give_back_the_original_dat_for_the_original_samples(data_dir: Path, tmp_path: Path, db: str,
                                                                          name: str) -> None:
    """What a lossless decode writes: the whole-record writer (wfdb's wrsamp) and the windowed one (WfdbWriter, which
    `decompress` uses for a model layer alone) both write the original .dat byte for byte (fmt 212 and 16)."""
    from vqcodec.io.wfdb import WfdbWriter

    source = data_dir / "ecg" / db / name
    sig = vqcodec.read(source)
    (tmp_path / "whole").mkdir()
    (tmp_path / "windows").mkdir()
    write_wfdb(tmp_path / "whole" / name, sig)
    writer = WfdbWriter(tmp_path / "windows" / name, sig)
    for start in range(0, sig.n_samples, 100_003):  # odd windows: fmt 212 packs pairs across them
        writer.write(sig.samples[start : start + 100_003])
    writer.close()
    for folder in ("whole", "windows"):
        assert filecmp.cmp(tmp_path / folder / f"{name}.dat", f"{source}.dat", shallow=False), folder

"""A WFDB record's annotation files (`100.atr`, LUDB's `1.i` .. `1.v6`, ...): found beside the record and checked when
it is compressed, written back beside the decoded record byte for byte (a .vqc file keeps them verbatim in its aNNO
section, `vqcodec.ecg.file`).

An annotation file is `<record>.<annotator>`; WFDB names the annotator freely (LUDB names them after the leads), so a
list of known extensions cannot find them all. A file beside the record is taken when its extension is a plain
annotator name (letters, digits, _), it is not the record's header or one of its signal files, its bytes have the
shape of WFDB's annotation format (16-bit words, the last one the zero word that ends every annotation file that
WFDB's writers make: what rules out text and most other files without parsing them), and `wfdb.rdann` reads it.
That costs one listing of the record's folder, and one parse of each candidate (a few ms per file).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import wfdb

from vqcodec.container.atomic import check_output, write_atomic
from vqcodec.container.format import DEFAULT_LIMITS
from vqcodec.ecg.file import ANNOTATOR_RE, MAX_ANNOTATION_FILES, RESERVED_ANNOTATORS
from vqcodec.errors import InputError
from vqcodec.io.wfdb import _one_line, _read_header, _signal_files, record_base

KNOWN_ANNOTATORS = ("atr", "qrs", "ecg", "man", "ari", "apn", "pu", "pu0", "pu1", "q1c", "q2c", "qt1", "qt2", "st",
                    "sta", "stb", "stc", "16a", "all", "wqrs", "gqrs", "sqrs", "event", "arrhythmia")
"""Annotators PhysioNet databases use: one of these beside a record that cannot be read is warned about (another
file that is no annotation file is left alone without a word)."""
NOT_ANNOTATIONS = frozenset({"vqc", "npy", "mid", "midi", "txt", "csv", "tsv", "json", "jsonl", "html", "htm", "xml",
                             "md", "pdf", "png", "jpg", "jpeg", "svg", "mat", "edf", "zip", "gz", "bz2", "xz", "zst",
                             "tar", "py", "tmp", "xws", "log"})
"""Extensions never taken for annotation files, whatever their bytes (files people keep beside records)."""
EOF_WORD = b"\0\0"
"""The zero word that ends a WFDB annotation file."""


def annotation_problem(path: Path) -> str | None:
    """Why `path` is not an annotation file vqcodec stores (too large, not WFDB's annotation format, or
    `wfdb.rdann` cannot read it), or None."""
    try:
        size = path.stat().st_size
        if size > DEFAULT_LIMITS.max_annotation_bytes:
            return f"{size} bytes, over the limit {DEFAULT_LIMITS.max_annotation_bytes}"
        with open(path, "rb") as fh:
            head = fh.read(2)
            fh.seek(max(0, size - 2))
            tail = fh.read(2)
    except OSError as e:
        return f"cannot be read ({e.strerror or e})"
    if size < 2 or size % 2 or tail != EOF_WORD or not head:
        return "not in WFDB's annotation format (16-bit words ending with a zero word)"
    base, ext = path.with_suffix(""), path.suffix[1:]
    try:
        wfdb.rdann(str(base), ext)
    except Exception as e:  # wfdb raises whatever its parse meets (IndexError, ValueError, ...)
        return f"wfdb.rdann cannot read it ({_one_line(e)})"
    return None


def _candidates(record: Path) -> tuple[Path, list[Path]]:
    """The record's base path and the files beside it that may be its annotation files, by name alone."""
    base = record_base(record)
    header = _read_header(record, base)
    taken = {p.name for p in _signal_files(header, base.parent)}
    prefix = base.name + "."
    try:
        names = sorted(e.name for e in base.parent.iterdir() if e.name.startswith(prefix))
    except OSError as e:
        raise InputError(f"{record}: cannot list its folder {base.parent} ({e.strerror or e})") from e
    found = []
    for name in names:
        ext = name[len(prefix):]
        path = base.parent / name
        if (ANNOTATOR_RE.fullmatch(ext) and ext.lower() not in RESERVED_ANNOTATORS | NOT_ANNOTATIONS
                and name not in taken and path.is_file()):
            found.append(path)
    return base, found


def find_annotations(record: str | Path, warn: list[str] | None = None) -> dict[str, bytes]:
    """The annotation files beside a WFDB record, {annotator: bytes}. A file with a known annotator's extension that
    is not one vqcodec can store is said in `warn` (when given) and left out; other files are left out silently."""
    record = Path(record)
    base, candidates = _candidates(record)
    files: dict[str, bytes] = {}
    for path in candidates:
        problem = annotation_problem(path)
        if problem is None:
            files[path.suffix[1:]] = path.read_bytes()
        elif warn is not None and path.suffix[1:] in KNOWN_ANNOTATORS:
            warn.append(f"{path}: not stored: {problem}")
    if len(files) > MAX_ANNOTATION_FILES:
        raise InputError(f"{record}: {len(files)} annotation files beside it, over the {MAX_ANNOTATION_FILES} a "
                         "file holds (name the ones to keep with --annotations)")
    _check_total(record, files)
    return files


def read_annotations(record: str | Path, annotators: list[str]) -> dict[str, bytes]:
    """The record's annotation files named by their annotators (`--annotations atr,qrs`), {annotator: bytes}; an
    InputError naming the first that is missing or that vqcodec cannot store."""
    record = Path(record)
    base = record_base(record)
    _read_header(record, base)
    if len(annotators) > MAX_ANNOTATION_FILES:
        raise InputError(f"{record}: {len(annotators)} annotation files named, over the {MAX_ANNOTATION_FILES} a "
                         "file holds")
    files: dict[str, bytes] = {}
    for ext in annotators:
        if not ANNOTATOR_RE.fullmatch(ext) or ext.lower() in RESERVED_ANNOTATORS:
            raise InputError(f"{record}: --annotations {ext!r} is not an annotator name (1..32 letters, digits and _, "
                             "not hea or dat)")
        path = base.with_name(f"{base.name}.{ext}")
        if not path.is_file():
            raise InputError(f"{path}: no such annotation file")
        problem = annotation_problem(path)
        if problem is not None:
            raise InputError(f"{path}: not an annotation file: {problem}")
        files[ext] = path.read_bytes()
    _check_total(record, files)
    return files


def _check_total(record: Path, files: dict[str, bytes]) -> None:
    total = sum(map(len, files.values()))
    if total > DEFAULT_LIMITS.max_annotation_bytes:
        raise InputError(f"{record}: annotation files of {total} bytes, over the limit "
                         f"{DEFAULT_LIMITS.max_annotation_bytes} a file holds")


def annotation_paths(record: str | Path, annotators: list[str] | dict[str, bytes]) -> list[Path]:
    """Where a record's annotation files go: `<record>.<annotator>` beside it, in annotator order."""
    base = record_base(record)
    return [base.with_name(f"{base.name}.{ext}") for ext in sorted(annotators)]


def write_annotations(record: str | Path, files: dict[str, bytes], force: bool = False) -> list[Path]:
    """Write annotation files beside a record (`out/100` -> `out/100.atr`, ...), each atomically and byte for byte
    (a WFDB annotation file does not hold its record's name, so a record written under another name keeps them as
    they are). None is written when one exists already and force is off (OutputExistsError naming it)."""
    base = record_base(record)
    paths = {ext: base.with_name(f"{base.name}.{ext}") for ext in sorted(files)}
    for path in paths.values():  # every name checked before the first is written
        check_output(path, force)
    for ext, path in paths.items():
        write_atomic(path, _writer(files[ext]), force)
    return list(paths.values())


def _writer(data: bytes) -> Callable[[BinaryIO], None]:
    def write(fh: BinaryIO) -> None:
        fh.write(data)

    return write

"""vqcodec.container.format knows no payload: a kind and its sections are registered by their own module.

A toy kind registered here round-trips through the real container code; the container's modules import nothing
from the payload packages; and the minor version a file is written as is the largest its sections ask for.
"""

from __future__ import annotations

import ast
import struct
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from vqcodec.container import format as vf
from vqcodec.errors import FormatError, LimitError

PACKAGE = Path(vf.__file__).resolve().parents[1]
SHA = "7a" * 32


@dataclass(eq=False)
class ToyFile:
    header: vf.Header
    text: bytes
    extra: dict[str, bytes] = field(default_factory=dict)


TOY_MINOR = 9


def _toy_write(f: ToyFile, level: int) -> tuple[vf.Header, list[tuple[str, bytes]]]:
    return f.header, [("tOYa", f.text)]


def _toy_read(data: bytes, name: str, limits: vf.Limits, salvage: bool) -> ToyFile:
    c = vf.read(data, name, limits)
    return ToyFile(c.header, bytes(c.sections["tOYa"]), c.extra)


@pytest.fixture(scope="module")
def toy_kind() -> vf.Kind:
    section = vf.register_section(vf.SectionType("tOYa", minor=lambda p: TOY_MINOR if p.startswith(b"v9") else 0,
                                                 cap=lambda h, lim: 16))
    kind = vf.register_kind(vf.Kind("toy", 200, ToyFile, _toy_read, _toy_write, lambda c: None))
    yield kind
    del vf.KINDS["toy"], vf.SECTION_TYPES[section.tag]


def _toy(text: bytes) -> ToyFile:
    return ToyFile(vf.Header("toy", 1.0, 0, 0, 0, 1, 1, 0, 2, SHA, {"x": 1}), text)


def test_a_kind_registered_outside_the_container_round_trips(toy_kind: vf.Kind) -> None:
    data = vf.dumps(_toy(b"hello"))
    back = vf.loads(data, "toy.vqc")
    assert isinstance(back, ToyFile) and back.text == b"hello" and back.header == _toy(b"").header
    assert struct.unpack_from("<HH", data, len(vf.MAGIC)) == (vf.MAJOR, vf.BIND_MINOR)  # every file is bound


def test_the_minor_version_is_what_the_sections_ask_for(toy_kind: vf.Kind) -> None:
    data = vf.dumps(_toy(b"v9 payload"))
    assert struct.unpack_from("<HH", data, len(vf.MAGIC)) == (vf.MAJOR, TOY_MINOR)


def test_a_registered_section_cap_is_enforced_before_reading(toy_kind: vf.Kind) -> None:
    with pytest.raises(LimitError, match=r"^toy\.vqc: section tOYa length 17 exceeds the limit 16"):
        vf.loads(vf.dumps(_toy(b"x" * 17)), "toy.vqc")


def test_an_unregistered_section_cannot_be_written() -> None:
    h = vf.Header("ecg", 1.0, 0, 0, 0, 1, 1, 0, 2, SHA, {})
    with pytest.raises(ValueError, match="not registered"):
        vf.write(h, [("zZZZ", b"")])


def test_an_unknown_kind_code_is_a_format_error(toy_kind: vf.Kind) -> None:
    data = bytearray(vf.dumps(_toy(b"a")))
    del vf.KINDS["toy"]
    try:
        with pytest.raises(FormatError, match="unknown kind 200"):
            vf.loads(bytes(data), "toy.vqc")
    finally:
        vf.register_kind(toy_kind)


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return names


def test_the_container_imports_no_payload_module() -> None:
    payload = ("vqcodec.ecg", "vqcodec.midi", "vqcodec.coding", "vqcodec.models", "vqcodec.io", "vqcodec.bench",
               "vqcodec.api", "vqcodec.cli", "onnxruntime", "wfdb", "mido")
    found = {(p.name, m) for p in (PACKAGE / "container").glob("*.py") for m in _imports(p)
             if m.startswith(payload)}
    assert found == set()


def test_the_payload_modules_register_their_own_kinds() -> None:
    import vqcodec  # noqa: F401  (the package registers both kinds on import)

    assert {k: (v.code, v.file_type.__module__) for k, v in vf.KINDS.items() if k in ("ecg", "midi")} == {
        "ecg": (1, "vqcodec.ecg.file"), "midi": (2, "vqcodec.midi.file")}
    owners = {tag: s.minor.__module__ for tag, s in vf.SECTION_TYPES.items()}
    assert owners["RESD"] == owners["IDXC"] == owners["NANM"] == owners["fPRT"] == "vqcodec.ecg.file"
    assert owners["NOTE"] == owners["mNOT"] == "vqcodec.midi.file"

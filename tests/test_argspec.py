"""Argspecs: the facade in `vqcodec.api` and both codecs take the same parameter names, kinds and defaults.

As python-soundfile checks its functions against its classes, so a default changed in one place shows here."""

from __future__ import annotations

import inspect
import typing

import pytest

import vqcodec
from vqcodec import api
from vqcodec.ecg.codec import Codec
from vqcodec.metrics import Compressed
from vqcodec.midi.codec import NoteCodec

CODECS = (Codec, NoteCodec)
FACADE_ONLY = {"compress": {"data", "model"}, "decompress": {"source", "model", "salvage"}}
"""What only the facade takes: the input, the model to load, and salvage (the codecs decode a whole file)."""


def _params(f: object, skip: int = 0) -> list[inspect.Parameter]:
    return list(inspect.signature(f).parameters.values())[skip:]  # type: ignore[arg-type]


def _shape(params: list[inspect.Parameter]) -> list[tuple[str, object, object]]:
    return [(p.name, p.kind, p.default) for p in params]


@pytest.mark.parametrize("method", ["compress", "decompress"])
@pytest.mark.parametrize("codec", CODECS, ids=lambda c: c.__name__)
def test_the_facade_passes_what_the_codecs_take_with_the_same_defaults(method: str, codec: type) -> None:
    theirs = {p.name: p for p in _params(getattr(codec, method))}
    shared = [p for p in _params(getattr(api, method)) if p.name not in FACADE_ONLY[method]]
    assert shared, method
    for p in shared:
        assert p.name in theirs, f"{codec.__name__}.{method} lacks {p.name}"
        assert theirs[p.name].default == p.default, (codec.__name__, method, p.name)
        assert theirs[p.name].kind != inspect.Parameter.POSITIONAL_ONLY


@pytest.mark.parametrize("method", ["compress", "decompress"])
def test_both_codecs_share_parameters_after_the_input(method: str) -> None:
    """compress(signal | performance, ...) and decompress(data, ...): everything after `self` and the input agrees."""
    ecg, midi = (_params(getattr(c, method), skip=2) for c in CODECS)
    assert _shape(ecg) == _shape(midi)


def test_both_codecs_load_alike_and_default_to_the_facades_models() -> None:
    ecg, midi = _params(Codec.load), _params(NoteCodec.load)
    assert [(p.name, p.kind) for p in ecg] == [(p.name, p.kind) for p in midi]
    assert _shape(ecg[1:]) == _shape(midi[1:])
    assert (ecg[0].name, ecg[0].default, midi[0].default) == ("model", api.DEFAULT_MODEL, api.DEFAULT_MIDI_MODEL)


def test_both_codecs_offer_the_same_public_methods() -> None:
    for name in ("load", "compress", "decompress", "decode_file", "check_quality", "qualities"):
        assert all(name in dir(c) for c in CODECS), name
    assert {"encode", "decode", "compress_to_prdn", "accepts_units"} <= set(dir(Codec))  # what only ECG has


@pytest.mark.parametrize("codec", CODECS, ids=lambda c: c.__name__)
def test_compress_returns_the_compressed_record_and_decompress_the_kind_it_decodes(codec: type) -> None:
    hints = typing.get_type_hints(codec.compress)
    assert hints["return"] is Compressed
    assert typing.get_type_hints(codec.decompress)["return"] in (vqcodec.Signal, vqcodec.Performance)


def test_decompress_and_info_take_the_same_source_name_and_limits() -> None:
    dec, inf = inspect.signature(api.decompress).parameters, inspect.signature(api.info).parameters
    assert list(inf) == ["source", "name", "limits"]
    for p in ("name", "limits"):
        assert dec[p].default == inf[p].default and dec[p].kind == inf[p].kind == inspect.Parameter.KEYWORD_ONLY
    assert dec["source"].annotation == inf["source"].annotation
    assert inf["limits"].default is vqcodec.DEFAULT_LIMITS


def test_the_top_level_names_are_the_api_functions() -> None:
    assert (vqcodec.compress, vqcodec.decompress, vqcodec.info) == (api.compress, api.decompress, api.info)
    assert set(vqcodec.__all__) <= set(dir(vqcodec))

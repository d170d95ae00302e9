"""Index entropy coding: exact round trips, fewer bits than zstd, loud failure on damage, old files still decode."""

from __future__ import annotations

import hashlib
import json
import shutil
import zlib

import numpy as np
import pytest
import zstandard

from tests.helpers.signals import make_signal
from vqcodec.coding import entropy
from vqcodec.container import bitpack
from vqcodec.container import format as vqc
from vqcodec.ecg import file as ecg_file
from vqcodec.ecg.codec import Codec
from vqcodec.errors import BundleError, ChecksumError, FormatError, ModelMismatchError
from vqcodec.models.bundle import MANIFEST, PRIORS, STAGE_PRIORS

K = 16


def skewed_codes(shape: tuple[int, int, int], seed: int = 0) -> np.ndarray:
    """Stage 1 follows a sticky chain in time; each later stage depends on the stage above it: the two
    contexts vqcodec.coding.entropy models (real codes have both, measured in benchmarks/results/)."""
    rng = np.random.default_rng(seed)
    c, s, f = shape
    out = np.zeros(shape, np.uint16)
    for ch in range(c):
        x = rng.integers(K)
        for t in range(f):
            x = x if rng.random() < 0.6 else (x + rng.integers(1, 3)) % K
            out[ch, 0, t] = x
    for st in range(1, s):
        out[:, st] = (out[:, st - 1] * 5 + (rng.random(out[:, st].shape) < 0.2)) % K
    return out


def prior_from(codes: np.ndarray) -> np.ndarray:
    return entropy.prior_weights(entropy.count_bigrams(codes, K))


@pytest.mark.parametrize("shape", [(2, 1, 1000), (1, 3, 257), (3, 2, 1), (2, 2, 0), (1, 1, entropy.LANE_FRAMES)])
def test_round_trip_is_exact_for_any_shape(shape):
    codes = skewed_codes(shape)
    q = prior_from(skewed_codes((2, 3, 2000), seed=1))
    out, ended = entropy.decode(entropy.encode(codes, q), q, shape)
    assert ended and np.array_equal(out, codes)


def test_it_beats_zstd_on_the_packed_indices():
    codes = skewed_codes((2, 2, 3000))
    q = prior_from(skewed_codes((2, 2, 3000), seed=5))
    coded = len(entropy.encode(codes, q))
    packed = len(zstandard.ZstdCompressor(level=19).compress(bitpack.pack(codes, 4)))
    assert coded < 0.9 * packed


def test_the_prior_is_integer_and_positive():
    q = entropy.prior_weights(np.zeros((2, K + 1, K), np.int64))
    assert q.dtype == np.int64 and q.min() >= 1 and np.all(q.sum(axis=2) <= entropy.PRIOR_MASS + K)


def test_codec_codes_indices_when_its_bundle_has_a_prior(codec):
    sig = make_signal(9000)
    data, _ = codec.compress(sig)
    f = vqc.loads(data)
    assert f.index_coding == entropy.CODING_ONE_PRIOR and all(isinstance(b, bytes) for b in f.blocks)
    assert vqc.SECTION_TYPES["IDXC"].minor(entropy.CODING_ONE_PRIOR.encode()) == 2  # format 1.2's coding
    assert data[8:12] == bytes([1, 0, vqc.BIND_MINOR, 0])  # the file: 1.8, for its binding
    out = codec.decompress(data)
    assert out.samples.shape == sig.samples.shape


def test_a_damaged_coded_block_fails_loudly(codec):
    data, _ = codec.compress(make_signal(9000))
    f = vqc.loads(data)
    bad = bytearray(f.blocks[0])
    bad[len(bad) // 2] ^= 0x10
    f.blocks[0] = bytes(bad)
    with pytest.raises(ChecksumError, match="block 0"):
        codec.decompress(vqc.dumps(f), "x.vqc")


def test_a_bundle_without_a_prior_writes_plain_blocks_and_the_new_bundle_still_reads_them(codec, tmp_path):
    """Adding a prior changes the model id; files of the bundle before it still decode (compatible_ids)."""
    plain = tmp_path / "plain"
    shutil.copytree(codec.bundle.path, plain)
    manifest = json.loads((plain / MANIFEST).read_text())
    del manifest["files"][PRIORS], manifest["compatible_ids"], manifest["priors"]
    (plain / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    (plain / PRIORS).unlink()
    old = Codec.load(plain, threads=1)
    assert old.model_id in codec.bundle.compatible_ids
    sig = make_signal(3000)
    data, _ = old.compress(sig)
    assert vqc.loads(data).index_coding is None and data[8:12] == bytes([1, 0, vqc.BIND_MINOR, 0])
    np.testing.assert_array_equal(codec.decompress(data).samples, old.decompress(data).samples)
    coded, _ = codec.compress(sig)
    with pytest.raises(ModelMismatchError):
        old.decompress(coded)


def test_an_unknown_index_coding_is_refused(codec):
    data, _ = codec.compress(make_signal(2000))
    f = vqc.loads(data)
    f.index_coding = "something-else"
    with pytest.raises(ModelMismatchError, match="something-else"):
        codec.decompress(vqc.dumps(f))
    with pytest.raises(ValueError):
        f.index_coding = "\x00bad"
        vqc.dumps(f)


def test_an_old_reader_would_refuse_a_coded_file_cleanly():
    """IDXC is critical: a reader that does not know it must fail with 'unsupported feature'."""
    assert ecg_file.TAG_IDXC[0].isupper()
    with pytest.raises(FormatError):
        vqc.loads(b"")


STAGE_LAMS = [0.3, 0.1, 0.0]
"""The tiny model's weight per stage count (3 stages), as training.priors --stage-lams takes them."""


@pytest.fixture(scope="module")
def staged(codec, tmp_path_factory) -> Codec:
    """The tiny model with a prior per stage count added by training.priors (as ecg-v4 ships)."""
    from training.priors import add_stage_priors, stage_counts

    path = tmp_path_factory.mktemp("staged") / "bundle"
    shutil.copytree(codec.bundle.path, path)
    signals = [make_signal(6000, channels=2, seed=s) for s in (11, 12)]
    add_stage_priors(path, stage_counts(Codec.load(path, threads=1), signals, STAGE_LAMS, 2), STAGE_LAMS, 2, "test")
    return Codec.load(path, threads=1)


@pytest.mark.parametrize("quality", [1, 2, 3])
def test_a_bundle_with_stage_priors_codes_each_stage_count_under_its_own(staged, quality):
    """bigram-rans-2 (format 1.7): the blocks decode under the prior of the file's stage count, exactly."""
    sig = make_signal(9000, seed=quality)
    data, _ = staged.compress(sig, quality)
    f = vqc.loads(data)
    n = staged.levels[quality][0]
    assert f.index_coding == entropy.CODING_PER_STAGES and data[8:12] == bytes([1, 0, vqc.BIND_MINOR, 0])
    assert vqc.SECTION_TYPES["IDXC"].minor(entropy.CODING_PER_STAGES.encode()) == 7
    q = entropy.prior_weights(staged.bundle.stage_priors[n])
    shape = (f.header.n_channels, n, f.header.block_length(0))

    def decodes_under(q: np.ndarray) -> bool:
        got, ended = entropy.decode(f.blocks[0][4:], q, shape)
        return ended and f.blocks[0][:4] == zlib.crc32(got.astype("<u2").tobytes()).to_bytes(4, "little")

    assert decodes_under(q)
    single = entropy.prior_weights(staged.bundle.priors)[:n]  # the same table only where counted alike (lambda 0)
    assert decodes_under(single) == np.array_equal(single, q)
    assert staged.decompress(data).samples.shape == sig.samples.shape


def test_stage_priors_keep_the_old_files_and_old_bundles_refuse_the_new_ones(codec, staged):
    """Adding stage priors changes the model id; files coded before (bigram-rans-1) decode the same."""
    assert codec.model_id in staged.bundle.compatible_ids
    sig = make_signal(3000)
    old_file, _ = codec.compress(sig, 3)
    np.testing.assert_array_equal(staged.decompress(old_file).samples, codec.decompress(old_file).samples)
    new_file, _ = staged.compress(sig, 3)
    f = vqc.loads(new_file)
    f.header.model_sha256 = codec.model_id  # even under the old id, the old bundle has no such prior
    with pytest.raises(ModelMismatchError, match="bigram-rans-2"):
        codec.decompress(vqc.dumps(f))


def test_stage_priors_are_never_replaced(staged, tmp_path):
    from training.priors import add_stage_priors

    copy = tmp_path / "b"
    shutil.copytree(staged.bundle.path, copy)
    before = (copy / STAGE_PRIORS).read_bytes()
    with pytest.raises(ValueError, match="already has stage priors"):
        add_stage_priors(copy, staged.bundle.stage_priors, STAGE_LAMS, 1, "test")
    assert (copy / STAGE_PRIORS).read_bytes() == before


@pytest.mark.parametrize("arrays", [{"1": (1, 17, 16), "2": (2, 17, 16)},  # one count missing
                                    {"1": (1, 17, 16), "2": (2, 17, 16), "3": (2, 17, 16)},  # wrong shape
                                    {"1": (1, 17, 16), "2": (2, 17, 16), "3": (3, 17, 16), "x": (1,)}])
def test_malformed_stage_priors_are_a_bundle_error(staged, tmp_path, arrays):
    bad = tmp_path / "bad"
    shutil.copytree(staged.bundle.path, bad)
    np.savez_compressed(bad / STAGE_PRIORS, **{k: np.ones(v, np.uint32) for k, v in arrays.items()})
    manifest = json.loads((bad / MANIFEST).read_text())
    manifest["files"][STAGE_PRIORS] = hashlib.sha256((bad / STAGE_PRIORS).read_bytes()).hexdigest()
    (bad / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match=STAGE_PRIORS):
        Codec.load(bad, threads=1)


def test_each_counting_round_prices_the_search_by_the_last_counts(codec):
    """Round 2 searches under round 1's counts; the indices at weight 0 do not depend on prices (counted once)."""
    import dataclasses

    from training.priors import _counts, stage_counts

    signals = [make_signal(6000, channels=2, seed=11)]
    one, two = (stage_counts(codec, signals, [0.5, 0.0, 0.0], rounds) for rounds in (1, 2))
    priced_by_one = Codec(dataclasses.replace(codec.bundle, stage_priors=one), threads=1)
    np.testing.assert_array_equal(two[1], _counts(priced_by_one, signals, 1, 0.5))
    np.testing.assert_array_equal(one[2], two[2])
    assert one[1].sum() == two[1].sum() == 2 * 6000 // codec.hop  # every index of both channels


def _with_codings(staged: Codec, tmp_path, codings: dict[str, str]) -> Codec:
    """A copy of the staged bundle whose ladder names an index coding for some levels (as calibrate writes)."""
    path = tmp_path / "codings"
    shutil.copytree(staged.bundle.path, path)
    manifest = json.loads((path / MANIFEST).read_text())
    for q, coding in codings.items():
        manifest["qualities"][q]["coding"] = coding
    (path / MANIFEST).write_text(json.dumps(manifest))
    return Codec.load(path, threads=1)


def test_a_level_may_name_the_coding_it_writes(staged, tmp_path):
    """calibrate measures each setting under each prior the bundle has; a level keeps the one it was measured with."""
    mixed = _with_codings(staged, tmp_path, {"1": entropy.CODING_ONE_PRIOR})
    sig = make_signal(3000)
    for q, coding in ((1, entropy.CODING_ONE_PRIOR), (2, entropy.CODING_PER_STAGES)):
        data, _ = mixed.compress(sig, q)
        assert vqc.loads(data).index_coding == coding
        assert mixed.decompress(data).samples.shape == sig.samples.shape


def test_a_level_naming_a_coding_without_its_prior_is_a_bundle_error(staged, tmp_path):
    with pytest.raises(BundleError, match="no prior for"):
        _with_codings(staged, tmp_path, {"2": "bigram-rans-9"})

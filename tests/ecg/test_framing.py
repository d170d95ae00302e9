"""framing.reach and chunked: the context reach measures is what chunked needs to equal one whole pass."""

from __future__ import annotations

import numpy as np
import pytest

from vqcodec.ecg.framing import chunked, reach


def conv_then_pool(radius: int, hop: int, seed: int):  # noqa: ANN201 - returns a [1, 1, n] -> [1, 1, n / hop] fn
    """A 'same' convolution of the given radius, a tanh, then a mean over each hop: a toy strided encoder."""
    kernel = np.random.default_rng(seed).standard_normal(2 * radius + 1)

    def fn(x: np.ndarray) -> np.ndarray:
        y = np.tanh(np.convolve(x[0, 0], kernel, mode="same"))
        return y.reshape(-1, hop).mean(axis=1)[None, None]

    return fn


@pytest.mark.parametrize(("radius", "hop"), [(3, 1), (37, 4), (200, 8), (421, 16)])
def test_reach_is_the_context_chunked_needs(radius: int, hop: int) -> None:
    fn = conv_then_pool(radius, hop, seed=radius)
    x = np.random.default_rng(1).standard_normal((1, 1, 4096))
    r = reach(fn, x, 1 / hop)
    assert radius - hop < r <= radius
    margin = -(-r // hop) * hop
    np.testing.assert_allclose(chunked(fn, x, 512, margin, 1 / hop), fn(x), rtol=0, atol=1e-12)
    if margin > 2 * hop:  # a margin short of the reach changes the output at the chunk edges
        assert not np.allclose(chunked(fn, x, 512, margin - 2 * hop, 1 / hop), fn(x), rtol=0, atol=1e-12)


def test_reach_through_an_upsampling_fn_is_in_input_frames() -> None:
    """A decoder-like fn (each frame repeated hop times, then smoothed over +-9 samples) reaches 3 frames."""
    kernel = np.ones(19)

    def fn(z: np.ndarray) -> np.ndarray:
        return np.convolve(np.repeat(z[0, 0], 4), kernel, mode="same")[None, None]

    z = np.random.default_rng(2).standard_normal((1, 1, 256))
    assert reach(fn, z, 4) == 3
    np.testing.assert_allclose(chunked(fn, z, 32, 3, 4), fn(z), rtol=0, atol=1e-9)

"""The vqcodec numcodecs codec as a Zarr format 3 array-to-bytes codec ("numcodecs.vqcodec"); the codec itself is
its neighbour vqcodec/io/zarr_codec.py.

    from vqcodec.io.zarr3 import VqcZarr3Codec
    z = zarr.create_array("100.zarr", shape=(650000, 2), chunks=(21600, 2), dtype="int16", zarr_format=3,
                          serializer=VqcZarr3Codec(fs=360, max_error=0), compressors=None)

It takes the place of Zarr's `bytes` serializer: the chunk reaches the codec as an array, with its channels, and
leaves it as a whole .vqc file. Zarr finds it by name when it opens the array (the `zarr.codecs` entry point).
Needs zarr 3.1.3 or later; Zarr warns that numcodecs codecs are outside the Zarr format 3 specification.
"""

from __future__ import annotations

from zarr.codecs.numcodecs import _NumcodecsArrayBytesCodec
from zarr.registry import register_codec

import vqcodec.io.zarr_codec  # noqa: F401  (registers the numcodecs codec this one runs)
from vqcodec.io.zarr_codec import CODEC_ID


class VqcZarr3Codec(_NumcodecsArrayBytesCodec, codec_name=CODEC_ID):
    """Zarr format 3 codec "numcodecs.vqcodec": the settings of `vqcodec.io.zarr_codec.VqcCodec` (fs, quality,
    max_error, max_prdn, model, gain)."""


register_codec(f"numcodecs.{CODEC_ID}", VqcZarr3Codec)  # found without the entry point too (a clone not installed)

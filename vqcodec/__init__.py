"""vqcodec: compress ECG records with a VQ-VAE into checksummed, versioned .vqc files.

    sig = vqcodec.read("mitdb/100.hea")
    blob = vqcodec.compress(sig)            # bytes
    out = vqcodec.decompress(blob)          # Signal, same length and metadata
    vqcodec.write("out/100", out)
"""

from vqcodec.api import VqcInfo, compress, decompress, info
from vqcodec.codec import Codec, Codes
from vqcodec.errors import (
    BundleError,
    ChecksumError,
    FormatError,
    InputError,
    LimitError,
    ModelMismatchError,
    ModelNotFoundError,
    OutputExistsError,
    TruncatedError,
    VersionError,
    VqcError,
)
from vqcodec.io import read, write
from vqcodec.metrics import Report, compare
from vqcodec.signal import ChannelInfo, Signal

__version__ = "0.1.0"

__all__ = [
    "read", "write", "compress", "decompress", "info", "compare", "Codec", "Codes", "Signal",
    "ChannelInfo", "Report", "VqcInfo", "VqcError", "InputError", "FormatError", "TruncatedError",
    "ChecksumError", "VersionError", "LimitError", "BundleError", "ModelNotFoundError",
    "ModelMismatchError", "OutputExistsError", "__version__",
]

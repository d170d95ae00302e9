"""vqcodec: compress ECG records with a VQ-VAE, and piano performances, into checksummed, versioned .vqc files.

    sig = vqcodec.read("mitdb/100.hea")
    blob = vqcodec.compress(sig)            # bytes
    out = vqcodec.decompress(blob)          # Signal, same length and metadata
    vqcodec.write("out/100", out)

    perf = vqcodec.read("piece.mid")        # Performance: notes and pedals
    vqcodec.write("back.mid", vqcodec.decompress(vqcodec.compress(perf)))
"""

from vqcodec.api import VqcInfo, compress, decompress, info
from vqcodec.ecg.codec import Codec, Codes
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
from vqcodec.metrics import NoteReport, Report, compare, compare_notes
from vqcodec.midi.codec import NoteCodec
from vqcodec.midi.performance import Pedal, Performance
from vqcodec.ecg.signal import ChannelInfo, Signal

__version__ = "0.1.0"

__all__ = [
    "read", "write", "compress", "decompress", "info", "compare", "Codec", "Codes", "Signal",
    "ChannelInfo", "Report", "VqcInfo", "NoteCodec", "Performance", "Pedal", "NoteReport", "compare_notes", "VqcError", "InputError", "FormatError", "TruncatedError",
    "ChecksumError", "VersionError", "LimitError", "BundleError", "ModelNotFoundError",
    "ModelMismatchError", "OutputExistsError", "__version__",
]

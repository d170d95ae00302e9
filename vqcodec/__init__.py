"""vqcodec: compress ECG records with a VQ-VAE, and piano performances, into checksummed, versioned .vqc files.

The public names; `vqcodec.api` holds the functions, `vqcodec.ecg.codec` and `vqcodec.midi.codec` the codecs.

    sig = vqcodec.read("mitdb/100.hea")
    blob = vqcodec.compress(sig)            # bytes
    out = vqcodec.decompress(blob)          # Signal, same length and metadata (also a path or a binary file)
    vqcodec.write("out/100", out)

    perf = vqcodec.read("piece.mid")        # Performance: notes and pedals
    vqcodec.write("back.mid", vqcodec.decompress(vqcodec.compress(perf)))

    data, report = vqcodec.Codec.load("ecg").compress(sig)   # Compressed(data, report): what was lost too
"""

from vqcodec.api import VqcInfo, compress, decompress, info, verify
from vqcodec.api import read_annotations as annotations
from vqcodec.batch import RecordResult, Status, compress_many, decompress_many
from vqcodec.container.format import DEFAULT_LIMITS, Limits
from vqcodec.ecg.codec import Codec, Codes
from vqcodec.ecg.signal import ChannelInfo, Signal
from vqcodec.errors import (
    BundleError,
    ChannelError,
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
from vqcodec.io.record import rdrecord
from vqcodec.metrics import Compressed, CompressedToTarget, NoteReport, Report, compare, compare_notes
from vqcodec.midi.codec import NoteCodec
from vqcodec.midi.performance import Pedal, Performance

__version__ = "0.2.0"

__all__ = [
    "read", "write", "compress", "decompress", "info", "verify", "annotations", "compare", "compare_notes", "Codec",
    "Codes",
    "compress_many", "decompress_many", "RecordResult", "Status",
    "NoteCodec", "rdrecord",
    "Signal", "ChannelInfo", "Performance", "Pedal", "Compressed", "CompressedToTarget", "Report", "NoteReport",
    "VqcInfo", "Limits", "DEFAULT_LIMITS", "VqcError", "InputError", "ChannelError", "FormatError", "TruncatedError",
    "ChecksumError", "VersionError", "LimitError", "BundleError", "ModelNotFoundError", "ModelMismatchError",
    "OutputExistsError", "__version__",
]

"""vqcodec: compress ECG records with a VQ-VAE, and piano performances, into checksummed, versioned .vqc files.

The public names; `vqcodec.api` holds the functions, `vqcodec.ecg.codec` and `vqcodec.midi.codec` the codecs.

    sig = vqcodec.read("mitdb/100.hea")
    blob = vqcodec.compress(sig)            # bytes
    out = vqcodec.decompress(blob)          # Signal, same length and metadata (also a path or a binary file)
    vqcodec.write("out/100", out)

    perf = vqcodec.read("piece.mid")        # Performance: notes and pedals
    vqcodec.write("back.mid", vqcodec.decompress(vqcodec.compress(perf)))

    blob = vqcodec.compress_edf("night.edf").data             # ECG by the model, the other signals exact
    vqcodec.decompress_edf(blob, "night-back.edf")           # the EDF file again (byte for byte if lossless)

    data, report = vqcodec.Codec.load("ecg").compress(sig)   # Compressed(data, report): what was lost too
"""

from vqcodec.api import VqcInfo, compress, compress_edf, decompress, decompress_edf, info, verify
from vqcodec.api import read_annotations as annotations
from vqcodec.batch import RecordResult, Status, compress_many, decompress_many
from vqcodec.container.format import DEFAULT_LIMITS, Limits
from vqcodec.ecg.codec import Codec, Codes
from vqcodec.ecg.signal import AuxChannel, ChannelInfo, Signal
from vqcodec.errors import (
    BundleError,
    ChannelError,
    ChecksumError,
    EdfError,
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
from vqcodec.midi.tokens import Tokens, detokenize, tokens

__version__ = "0.2.0"

__all__ = [
    "read", "write", "compress", "decompress", "compress_edf", "decompress_edf",
    "info", "verify", "annotations", "compare", "compare_notes", "Codec",
    "Codes",
    "compress_many", "decompress_many", "RecordResult", "Status",
    "NoteCodec", "rdrecord", "tokens", "detokenize", "Tokens",
    "Signal", "ChannelInfo",
    "AuxChannel", "Performance", "Pedal", "Compressed", "CompressedToTarget", "Report", "NoteReport",
    "VqcInfo", "Limits", "DEFAULT_LIMITS", "VqcError", "InputError", "ChannelError", "EdfError",
    "FormatError", "TruncatedError",
    "ChecksumError", "VersionError", "LimitError", "BundleError", "ModelNotFoundError", "ModelMismatchError",
    "OutputExistsError", "__version__",
]

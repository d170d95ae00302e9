"""vqcodec's error hierarchy: every failure the public API raises is a VqcError.

Each message starts with the file (or record) it concerns, so the CLI can print it as one line.
"""

from __future__ import annotations


class VqcError(Exception):
    """Base class of every error vqcodec raises on purpose."""


class InputError(VqcError):
    """The input record, array or file cannot be compressed as given."""


class FormatError(VqcError):
    """A .vqc file is malformed (bad magic, bad structure, impossible values)."""


class TruncatedError(FormatError):
    """A .vqc file ends before its structure says it should."""


class ChecksumError(FormatError):
    """A CRC, zstd checksum or decode fingerprint does not match."""


class VersionError(FormatError):
    """A .vqc file was written by an incompatible (newer major) format version."""


class LimitError(VqcError):
    """A length or count exceeds a named safety limit (checked before allocating)."""


class BundleError(VqcError):
    """A model bundle is missing files, malformed, or fails its sha256 check."""


class ModelNotFoundError(BundleError):
    """No installed model bundle has the requested name or id."""


class ModelMismatchError(VqcError):
    """A .vqc file was written by a different model (other sha256 or kind) than the one given."""


class OutputExistsError(VqcError):
    """The output exists and overwriting was not allowed (no --force)."""


class CorruptSourceWarning(UserWarning):
    """The input disagrees with its own checksum: read as it is, but the CLI compresses it only with --force."""

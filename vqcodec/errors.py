"""vqcodec's error hierarchy: every failure the public API raises is a VqcError; the CLI prints them.

Each message starts with the file (or record) it concerns, so the CLI can print it as one line. InputError and
FormatError are also ValueErrors, as a bad argument or bad bytes are in the standard library.
"""

from __future__ import annotations


class VqcError(Exception):
    """Base class of every error vqcodec raises on purpose."""


class InputError(VqcError, ValueError):
    """The input record, array, argument or file cannot be used as given (also a ValueError)."""


class ChannelError(InputError):
    """A channel's units are not what the model was trained on (`refused`: "name (units)" of each such channel,
    `fit`: the names of the channels it takes); the record can still be coded without the model."""

    def __init__(self, message: str, refused: list[str] | None = None, fit: list[str] | None = None) -> None:
        super().__init__(message)
        self.refused, self.fit = refused or [], fit or []


class EdfError(InputError):
    """An EDF or BDF file breaks its format (header length, record count, a field that is not a number or not
    ASCII, a truncated data record); the message names the file and the field."""


class FormatError(VqcError, ValueError):
    """A .vqc file is malformed (bad magic, bad structure, impossible values); also a ValueError."""


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

"""Exceptions with a clear one-line message, mapped to exit code 2 by the CLI."""


class SirenpipeError(Exception):
    """Base class of errors caused by bad input (files, bitstreams, settings)."""


class AudioReadError(SirenpipeError):
    """A file could not be read as audio, or holds no usable audio."""


class BitstreamError(SirenpipeError):
    """Bytes that are not a valid .sirn bitstream (corrupt, truncated or foreign)."""


class FitDivergedError(SirenpipeError):
    """The training loss became NaN or infinite."""

"""Audio durations without decoding: G.722 from the file size, Ogg from its last page, else headers."""

from __future__ import annotations

import os
from pathlib import Path

import soundfile as sf

G722_BYTES_PER_SECOND = 8000  # 64 kbit/s
_OGG_MAX_PAGE = 65307


def duration_of(paths: tuple[str, ...]) -> float | None:
    """Seconds of the shortest file (a mix is as long as its shortest part); None if any is unreadable."""
    lengths = [file_duration(p) for p in paths]
    return None if None in lengths else min(lengths)


def file_duration(path: str) -> float | None:
    """Seconds of audio in one file, from its size or header; None when it is not readable as audio."""
    try:
        if Path(path).suffix.lower() == ".g722":
            return os.path.getsize(path) / G722_BYTES_PER_SECOND
        seconds = _ogg_duration(path) if Path(path).suffix.lower() in (".ogg", ".oga", ".opus") else None
        return seconds if seconds is not None else sf.info(path).duration
    except (OSError, sf.LibsndfileError, RuntimeError):
        return None


def _ogg_duration(path: str) -> float | None:
    """Vorbis/Opus length = last page's granule position / rate (two small reads, much
    quicker than sf.info). None when the layout is anything unusual; the caller then asks libsndfile."""
    with open(path, "rb") as f:
        head = f.read(512)
        size = f.seek(0, os.SEEK_END)
        f.seek(max(0, size - _OGG_MAX_PAGE))
        tail = f.read()
    if len(head) < 28 or not head.startswith(b"OggS"):
        return None
    packet = head[27 + head[26] :]
    if packet.startswith(b"\x01vorbis"):
        rate, pre_skip = int.from_bytes(packet[12:16], "little"), 0
    elif packet.startswith(b"OpusHead"):
        rate, pre_skip = 48000, int.from_bytes(packet[10:12], "little")
    else:
        return None
    last = tail.rfind(b"OggS")
    page = tail[last : last + 27]
    if last < 0 or len(page) < 27 or page[4] != 0 or page[14:18] != head[14:18] or rate <= 0:
        return None  # not a page of the same (single, unchained) stream
    granule = int.from_bytes(page[6:14], "little", signed=True)
    return (granule - pre_skip) / rate if granule >= pre_skip else None

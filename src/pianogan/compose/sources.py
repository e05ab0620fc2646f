"""Someone's music as a roll: a MIDI file, a roll PNG, uploaded bytes of either, or an array.

Files are read by ``midi.read_midi`` and ``png.read_png``, so a bad file gives the same
one-line error as the command line. Uploaded bytes are written under their (sanitised)
name in a private temporary folder and read the same way, and the error names the upload,
not the temporary path. A PNG's size is checked from its header before it is decoded,
so a small file that would decompress to a huge image is refused cheaply.
"""

from __future__ import annotations

import io
import os
import re
import tempfile
from pathlib import Path

import numpy as np

from pianogan.errors import ImageError, PianoganError
from pianogan.io.midi import MAX_COLUMNS, read_midi
from pianogan.io.png import read_png
from pianogan.roll import N_PITCHES, check_roll, windows

MIDI_MAGIC = b"MThd"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def safe_name(name: str | None, default: str = "upload") -> str:
    """A file name to show and to write under: the last path part, plain characters only."""
    base = re.split(r"[\\/]", name or "")[-1]
    base = re.sub(r"[^A-Za-z0-9._ -]", "_", base).strip(" .")[:100]
    return base or default


def read_roll(path: str | os.PathLike) -> np.ndarray:
    """The whole roll of a MIDI file or of a roll PNG, as written (column 0 = the file's start).

    MIDI is not bar-aligned here: a person comparing their music with the nearest
    piece expects the notes where their file has them.
    """
    path = Path(path)
    if path.suffix.lower() == ".png":
        return read_png(path)
    roll, _ = read_midi(path)
    return roll


def read_bytes(data: bytes, name: str | None = None) -> np.ndarray:
    """The roll of uploaded MIDI or PNG bytes, recognised by content; errors name ``name``."""
    shown = safe_name(name)
    if data.startswith(MIDI_MAGIC):
        suffix = ".mid"
    elif data.startswith(PNG_MAGIC):
        suffix = ".png"
        _check_png_size(data, shown)
    else:
        raise PianoganError(f"{shown}: neither a MIDI file nor a PNG image (their first bytes are 'MThd' and '\\x89PNG')")
    stem = Path(shown).stem or "upload"
    with tempfile.TemporaryDirectory(prefix="pianogan-upload-") as folder:
        path = Path(folder) / f"{stem}{suffix}"
        path.write_bytes(data)
        try:
            return read_roll(path)
        except PianoganError as error:
            raise error.renamed(str(path), shown) from None


def _check_png_size(data: bytes, shown: str) -> None:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
    except (UnidentifiedImageError, OSError, ValueError) as error:
        raise ImageError(f"{shown}: not a readable PNG image ({error})") from None
    if height != N_PITCHES:
        raise ImageError(f"{shown}: image is {height} pixels high, a roll must be {N_PITCHES} (one row per pitch 21..126)")
    if width > MAX_COLUMNS:
        raise ImageError(f"{shown}: image is {width} pixels wide; rolls over {MAX_COLUMNS} columns are refused")


def as_roll(source, name: str | None = None) -> tuple[np.ndarray, str]:
    """A roll and a name for it from a path, bytes, a Piece or a bool array ``(106, T)``."""
    from pianogan.compose.piece import Piece

    if isinstance(source, Piece):
        return check_roll(source.roll), name or "piece"
    if isinstance(source, (bytes, bytearray, memoryview)):
        return read_bytes(bytes(source), name), safe_name(name)
    if isinstance(source, (str, os.PathLike)):
        return read_roll(source), name or Path(source).name
    return check_roll(np.asarray(source), name or "roll").astype(bool), name or "roll"


def first_window(roll: np.ndarray, width: int, name: str = "music") -> np.ndarray:
    """The first window of ``width`` columns with a note in it (padded with silence)."""
    found = windows(roll, width)
    if not found:
        raise PianoganError(f"{name}: has no notes on the roll's 106 pitches")
    return found[0][1]

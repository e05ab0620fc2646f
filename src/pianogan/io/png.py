"""Roll PNG files: the format people and the seed project exchange rolls in.

8-bit grayscale, one row per pitch with row 0 (pitch 21) at the top and 255 for a sounding
note. Writing is atomic and checked; reading accepts what other tools save (RGB, RGBA,
16-bit) and checks the size from the header before decoding.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

from pianogan.errors import ImageError
from pianogan.io.atomic import atomic_path, complete_png
from pianogan.roll import MAX_COLUMNS, N_PITCHES, check_roll


def write_png(roll: np.ndarray, path: str | os.PathLike) -> None:
    """Write a roll as an 8-bit grayscale PNG (255 = sounding), atomically."""
    from PIL import Image

    pixels = np.where(check_roll(roll, str(path)), 255, 0).astype(np.uint8)
    with atomic_path(path, check=complete_png) as tmp:
        Image.fromarray(pixels, mode="L").save(tmp, format="PNG")


def read_png(path: str | os.PathLike, threshold: float = 0.5) -> np.ndarray:
    """Read a roll PNG (grayscale, RGB or RGBA, 8 or 16 bit) as a bool roll.

    A pixel sounds when its value is at least ``threshold`` times the image's full scale
    (255, or 65535 for 16-bit images); the default, half scale, reads the seed's soft
    images as their authors did. Colour images are reduced to luminance and the alpha
    channel is ignored, so the seed's images load whatever mode they were saved in.
    The size is checked from the header before any pixel is decoded (a small file can
    claim a huge image): 106 rows and at most ``MAX_COLUMNS`` columns.
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    try:
        with warnings.catch_warnings():  # PIL warns of large images; the size is checked here
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(path)
        with image:
            _check_png_size(path, image.size)
            image.load()
            if image.mode in ("I", "I;16", "I;16B", "I;16L"):
                pixels = np.asarray(image, dtype=np.int64)
                limit = 65535 if image.mode.startswith("I;16") or pixels.max(initial=0) > 255 else 255
            else:
                pixels = np.asarray(image.convert("L"), dtype=np.uint8)
                limit = 255
    except FileNotFoundError:
        raise ImageError(f"{path}: no such file") from None
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError, SyntaxError, EOFError) as error:
        raise ImageError(f"{path}: not a readable PNG image ({str(error).splitlines()[0] if str(error) else type(error).__name__})") from None
    if pixels.ndim != 2 or pixels.shape[0] != N_PITCHES:
        raise ImageError(f"{path}: not a single-channel roll image after conversion (shape {pixels.shape})")
    return pixels >= threshold * limit


def _check_png_size(path: Path, size: tuple[int, int]) -> None:
    """Refuse an image whose header gives a size no roll has, before it is decoded."""
    width, height = size
    if height != N_PITCHES:
        raise ImageError(f"{path}: image is {height} pixels high, a roll must be {N_PITCHES} (one row per pitch 21..126)")
    if not 1 <= width <= MAX_COLUMNS:
        raise ImageError(f"{path}: image is {width} pixels wide; a roll has 1 to {MAX_COLUMNS} columns")

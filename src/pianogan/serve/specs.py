"""What a request asks for, read from its query string with one-line errors.

Every number is parsed here and checked against a range, so a request can only ask for
work of bounded size: a piece at most ``MAX_LENGTH`` columns, at most ``MAX_VARIATIONS``
variations. Nothing in a request is ever used as a file name or path.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from pianogan.errors import OptionError
from pianogan.io.midi import MAX_QPM, MIN_QPM, OUTPUT_QPM
from pianogan.music.keys import parse_key
from pianogan.roll import DEFAULT_VELOCITY

MAX_LENGTH = 2400  # columns: 5 minutes at 120 BPM, 8 windows
MAX_SEED = 2**32 - 1
MAX_VARIATIONS = 8
MAX_TEXT = 4096  # characters of one parameter


@dataclass(frozen=True)
class PieceSpec:
    """A piece as the page describes it: a latent (or a seed's), how to play it, how to write it."""

    latent: tuple[float, ...] | None
    seed: int
    towards: tuple[float, ...] | None
    t: float
    length: int | None
    threshold: float
    key: int | None
    bpm: float
    velocity: int
    transpose: int


def _text(query: Mapping[str, str], name: str) -> str | None:
    value = query.get(name)
    if value is not None and len(value) > MAX_TEXT:
        raise OptionError(name, f": longer than {MAX_TEXT} characters")
    return value if value not in (None, "") else None


def number(query: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    """A finite float parameter within [low, high], or ``default`` when absent."""
    text = _text(query, name)
    if text is None:
        return default
    try:
        value = float(text)
    except ValueError:
        raise OptionError(name, f": not a number ({text[:40]!r})") from None
    if not (math.isfinite(value) and low <= value <= high):
        raise OptionError(name, f"must be {low:g}..{high:g}, got {text[:40]}")
    return value


def integer(query: Mapping[str, str], name: str, default: int | None, low: int, high: int) -> int | None:
    """An integer parameter within [low, high], or ``default`` when absent."""
    text = _text(query, name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        raise OptionError(name, f": not a whole number ({text[:40]!r})") from None
    if not low <= value <= high:
        raise OptionError(name, f"must be {low}..{high}, got {value}")
    return value


def latent(query: Mapping[str, str], name: str, dim: int) -> tuple[float, ...] | None:
    """``dim`` comma-separated finite numbers, each within +-10 (the prior is N(0, 1))."""
    text = _text(query, name)
    if text is None:
        return None
    parts = text.split(",")
    if len(parts) != dim:
        raise OptionError(name, f": expected {dim} comma-separated numbers, got {len(parts)}")
    try:
        values = np.array([float(p) for p in parts])
    except ValueError:
        raise OptionError(name, ": not a list of numbers") from None
    if not (np.isfinite(values).all() and np.abs(values).max() <= 10):
        raise OptionError(name, ": every number must be finite and within -10..10")
    return tuple(float(v) for v in values)


def key(query: Mapping[str, str]) -> int | None:
    text = _text(query, "key")
    return None if text is None or text.lower() in ("none", "as generated") else parse_key(text)


def piece_spec(query: Mapping[str, str], dim: int) -> PieceSpec:
    """Parse a piece request: ``latent`` or ``seed``, optional ``towards`` and ``t``, and how to play it."""
    return PieceSpec(
        latent=latent(query, "latent", dim),
        seed=integer(query, "seed", 0, 0, MAX_SEED),
        towards=latent(query, "towards", dim),
        t=number(query, "t", 0.0, 0.0, 1.0),
        length=integer(query, "length", None, 1, MAX_LENGTH),
        threshold=number(query, "threshold", 0.5, 0.01, 0.99),
        key=key(query),
        bpm=number(query, "bpm", OUTPUT_QPM, MIN_QPM, MAX_QPM),
        velocity=integer(query, "velocity", DEFAULT_VELOCITY, 1, 127),
        transpose=integer(query, "transpose", 0, -24, 24),
    )

"""Small, musically plausible pieces made by code, for demos and notebooks without data."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from pianogan.io.midi import write_midi
from pianogan.roll import COLUMNS_PER_BAR as BAR
from pianogan.roll import COLUMNS_PER_QUARTER as BEAT
from pianogan.roll import LOWEST_PITCH, N_PITCHES

MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)


def chord_progression_piece(bars: int = 40, key: int = 0) -> np.ndarray:
    """A I-IV-V-I progression of held triads under a rising and falling scale, in 4/4.

    ``key`` transposes the piece by semitones (0 = C major). Returns a bool roll of
    ``16 * bars`` columns: each bar holds its triad for 14 columns, and the melody plays
    one note per quarter note, 3 columns long.
    """
    roll = np.zeros((N_PITCHES, BAR * bars), dtype=bool)
    melody = [60 + key + step for step in MAJOR_SCALE] + [72 + key]
    melody = melody + melody[-2:0:-1]
    for bar in range(bars):
        root = [48, 53, 55, 48][bar % 4] + key
        for pitch in (root, root + 4, root + 7):
            roll[pitch - LOWEST_PITCH, BAR * bar : BAR * bar + BAR - 2] = True
        for beat in range(BAR // BEAT):
            pitch = melody[(BAR // BEAT * bar + beat) % len(melody)]
            start = BAR * bar + BEAT * beat
            roll[pitch - LOWEST_PITCH, start : start + BEAT - 1] = True
    return roll


def write_example_pieces(folder: str | os.PathLike, count: int = 4, bars: int = 40) -> list[Path]:
    """Write ``count`` example pieces in different keys as MIDI files into ``folder``."""
    paths = []
    for i in range(count):
        path = Path(folder) / f"example_{i}.mid"
        write_midi(chord_progression_piece(bars, key=(7 * i + 5) % 12 - 5), path)
        paths.append(path)
    return paths

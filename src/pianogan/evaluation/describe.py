"""A roll bar by bar, in the words a musician reads a lead sheet in: chord, bass, melody.

For listening notes and model cards: what a piece contains, read from its notes rather
than guessed from a picture. A bar's chord is the triad holding the most note time
(``metrics.bar_triads``); the bass is the lowest note below middle C starting on each
beat (as ``metrics.bass_on_beat``); the melody is the top voice, the notes that start as
the highest sounding pitch (``metrics.top_voice``), with each note's length in sixteenths.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pianogan.evaluation import metrics
from pianogan.music.keys import estimate_keys, key_name
from pianogan.roll import COLUMNS_PER_BAR, COLUMNS_PER_QUARTER, LOWEST_PITCH, check_roll, pitch_name

REST = "."


@dataclass(frozen=True)
class Bar:
    """One bar of a roll: ``chord`` is '-' when nothing sounds in it."""

    index: int
    chord: str
    bass: tuple[str, ...]  # the lowest note below C4 starting on each beat, REST for none
    melody: tuple[str, ...]  # top-voice notes as 'E5:4' (pitch, sixteenths until the next one or the bar's end)
    notes: int  # notes starting in the bar
    voices: float  # mean number of pitches sounding in the bar's sounding columns

    def line(self) -> str:
        melody = " ".join(self.melody) or REST
        return f"bar {self.index + 1:>3} | {self.chord:<4}| bass {' '.join(self.bass):<15}| {self.notes:>3} notes, {self.voices:3.1f} voices | melody {melody}"


def bars(roll: np.ndarray) -> list[Bar]:
    """The whole bars of a roll (106, T) described one by one; a last, partial bar is left out."""
    roll = check_roll(np.asarray(roll, dtype=bool), allow_empty=True)
    starts = metrics.onsets(roll)
    top, top_start_mask = metrics.top_voice(roll)
    top_starts = np.flatnonzero(top_start_mask)
    triads = metrics.bar_triads(roll)
    described = []
    for index, triad in enumerate(triads):
        first, end = index * COLUMNS_PER_BAR, (index + 1) * COLUMNS_PER_BAR
        bass = []
        for beat in range(first, end, COLUMNS_PER_QUARTER):
            rows = np.flatnonzero(starts[: metrics.BASS_BELOW - LOWEST_PITCH, beat : beat + COLUMNS_PER_QUARTER].any(axis=1))
            bass.append(pitch_name(LOWEST_PITCH + int(rows[0])) if len(rows) else REST)
        in_bar = top_starts[(top_starts >= first) & (top_starts < end)]
        lengths = np.diff([*in_bar, end])
        melody = tuple(f"{pitch_name(LOWEST_PITCH + int(top[c]))}:{int(n)}" for c, n in zip(in_bar, lengths))
        columns = roll[:, first:end]
        lit = columns.any(axis=0)
        voices = float(columns[:, lit].sum() / lit.sum()) if lit.any() else 0.0
        chord = metrics.TRIAD_NAMES[int(triad)] if lit.any() else "-"
        described.append(Bar(index, chord, tuple(bass), melody, int(starts[:, first:end].sum()), voices))
    return described


def describe(roll: np.ndarray) -> str:
    """A header (key, register, density) and one line per bar."""
    roll = check_roll(np.asarray(roll, dtype=bool), allow_empty=True)
    if not roll.any():
        return f"{roll.shape[1]} columns, silent"
    rows = np.flatnonzero(roll.any(axis=1))
    low, high = (pitch_name(LOWEST_PITCH + int(r)) for r in (rows[0], rows[-1]))
    header = (
        f"{key_name(int(estimate_keys(roll)))}, {roll.shape[1] // COLUMNS_PER_BAR} bars, notes {low} to {high}, "
        f"{int(metrics.note_count(roll))} notes, silent for {float(1 - roll.any(axis=0).mean()):.0%} of the time"
    )
    return "\n".join([header, *(bar.line() for bar in bars(roll))])

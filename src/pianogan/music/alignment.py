"""Bar alignment: find a piece's sixteenth grid, beat and downbeat from its notes, and the shift
that puts beat 1 of a bar on column 0.

Many MIDI files are quantised to a sixteenth grid that does not start at tick 0 (POP909's
songs sit a third to a half of a column off it), and their first downbeat falls anywhere.
Read as they are, the same rhythm lands on different column phases from song to song, and
onsets near a half column round inconsistently. ``estimate`` finds, from the onsets alone:

1. the grid offset: the most common onset position inside a column (a circular histogram
   of ``4 * tick mod ticks_per_quarter``, smoothed), and how many onsets sit near it;
2. the beat phase: the column phase (mod 4) where duration-weighted onsets peak;
3. the downbeat: among the beats of a bar (the file's first time signature, 4/4 when it
   has none), the one where long, low notes start most (bass notes and held chords change
   on the bar line in most styles).

The shift, in whole ticks and never negative, moves that downbeat onto a column that is a
multiple of the bar, so windows cut at multiples of the bar start on beat 1. A file whose
onsets do not gather on any grid (a recorded performance) is left as it is and flagged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pianogan.roll import COLUMNS_PER_BAR, COLUMNS_PER_QUARTER

GRID_TOLERANCE = 0.1  # of a column: an onset this close to a grid line is "on the grid"
MIN_ON_GRID = 0.35  # share of onsets on the grid below which a file has no steady grid (chance: 0.2)
DEFAULT_BAR_COLUMNS = COLUMNS_PER_BAR
BASS_PITCH = 55  # G3: notes below it count as bass when voting for the downbeat


@dataclass(frozen=True)
class Alignment:
    """Where a piece's grid, beats and bars are, and the shift that aligns them."""

    shift_ticks: int  # added to every note time before quantising; 0 when not aligned
    grid_offset: float  # grid lines sit this far (in columns, 0..1) after the tick-0 grid
    on_grid: float  # share of onsets within GRID_TOLERANCE of a grid line
    beat_phase: int  # column phase (mod 4) of the beats, on the offset grid
    downbeat_phase: int  # column phase (mod bar_columns) of beat 1, on the offset grid
    bar_columns: int
    aligned: bool  # False: no steady grid found, nothing shifted

    def as_dict(self) -> dict:
        return {
            "aligned": self.aligned,
            "shift_ticks": self.shift_ticks,
            "grid_offset": round(self.grid_offset, 3),
            "on_grid": round(self.on_grid, 3),
            "beat_phase": self.beat_phase,
            "downbeat_phase": self.downbeat_phase,
            "bar_columns": self.bar_columns,
        }


NOT_ALIGNED = Alignment(0, 0.0, 0.0, 0, 0, DEFAULT_BAR_COLUMNS, False)


def bar_columns(numerator: int, denominator: int) -> int:
    """Columns in a bar of ``numerator/denominator`` time (16 for 4/4, 12 for 3/4 and 6/8)."""
    columns = numerator * 4 * COLUMNS_PER_QUARTER // denominator if denominator > 0 else 0
    return columns if columns >= COLUMNS_PER_QUARTER else DEFAULT_BAR_COLUMNS


def _grid_offset(starts: np.ndarray, tpq: int) -> tuple[int, float]:
    """The most common onset position within a column, in units of tpq/4-ticks (0..tpq-1),
    and the share of onsets within ``GRID_TOLERANCE`` of it (circularly)."""
    position = (COLUMNS_PER_QUARTER * starts) % tpq  # a column is tpq units wide
    bins = min(tpq, 240)
    histogram = np.bincount(position * bins // tpq, minlength=bins).astype(float)
    kernel_width = max(1, round(bins * GRID_TOLERANCE / 2))
    smoothed = sum(np.roll(histogram, s) for s in range(-kernel_width, kernel_width + 1))
    centre = (int(np.argmax(smoothed)) + 0.5) * tpq / bins
    delta = (position - centre + tpq / 2) % tpq - tpq / 2  # signed distance to the peak
    near = np.abs(delta) <= GRID_TOLERANCE * tpq
    offset = round(centre + float(np.median(delta[near]))) % tpq
    distance = np.abs((position - offset + tpq / 2) % tpq - tpq / 2)
    return offset, float(np.mean(distance <= GRID_TOLERANCE * tpq))


def estimate(starts: np.ndarray, ends: np.ndarray, pitches: np.ndarray, tpq: int, bar: int = DEFAULT_BAR_COLUMNS) -> Alignment:
    """Estimate the grid, beat and downbeat of a piece from its notes (ticks) and the shift
    that aligns it; ``NOT_ALIGNED`` without notes or without a steady grid."""
    starts = np.asarray(starts, dtype=np.int64)
    if len(starts) < 8 or tpq < COLUMNS_PER_QUARTER:
        return NOT_ALIGNED
    offset, on_grid = _grid_offset(starts, tpq)
    if on_grid < MIN_ON_GRID:
        return Alignment(0, offset / tpq, on_grid, 0, 0, bar, False)
    # Columns on the piece's own grid: the grid line just before (or at) each onset, rounded.
    columns = (COLUMNS_PER_QUARTER * starts - offset + tpq // 2) // tpq
    lengths = np.clip((np.asarray(ends, dtype=np.int64) - starts) * COLUMNS_PER_QUARTER / tpq, 0.25, 16.0)
    weight = np.sqrt(lengths)
    beat_votes = np.bincount(columns % COLUMNS_PER_QUARTER, weights=weight, minlength=COLUMNS_PER_QUARTER)
    beat_phase = int(np.argmax(beat_votes))
    bass = np.asarray(pitches) < BASS_PITCH
    bar_votes = np.bincount(columns % bar, weights=weight * (1.0 + 2.0 * bass), minlength=bar)
    candidates = np.arange(beat_phase, bar, COLUMNS_PER_QUARTER)
    downbeat_phase = int(candidates[np.argmax(bar_votes[candidates])])
    # Tick (in tpq/4-tick units) of a downbeat, then the shift to the next multiple of the bar.
    downbeat_units = offset + downbeat_phase * tpq
    shift_units = (-downbeat_units) % (bar * tpq)
    shift_ticks = round(shift_units / COLUMNS_PER_QUARTER)
    return Alignment(shift_ticks, offset / tpq, on_grid, beat_phase, downbeat_phase, bar, True)

"""The piano-roll format: its constants (kept in ``pianogan.constants``), windows, and
pictures for people (PNG files: ``io.png``).

A roll is a ``bool`` array of shape ``(106, T)``: row ``r`` is MIDI pitch ``21 + r`` and
column ``c`` is the sixteenth note starting at quarter note ``c / 4``. The PNG format keeps
the orientation of the seed project's images (row 0, the lowest pitch, at the top), 8-bit
grayscale with 255 for a sounding note, so its existing training images stay readable.
"""

from __future__ import annotations

import numpy as np

from pianogan.constants import (  # the format's numbers, exported here as well
    COLUMNS_PER_BAR,
    COLUMNS_PER_QUARTER,
    DEFAULT_VELOCITY,
    HIGHEST_PITCH,
    LATENT_DIM,
    LOWEST_PITCH,
    MAX_COLUMNS,
    N_PITCHES,
    PIANO_ROWS,
    SECONDS_PER_COLUMN_AT_120_BPM,
    VOICES,
    WINDOW,
)
from pianogan.errors import OptionError, ShapeError

__all__ = [  # the constants come from pianogan.constants
    "COLUMNS_PER_BAR",
    "COLUMNS_PER_QUARTER",
    "DEFAULT_VELOCITY",
    "HIGHEST_PITCH",
    "LATENT_DIM",
    "LOWEST_PITCH",
    "MAX_COLUMNS",
    "MAX_DRAWN_COLUMNS",
    "N_PITCHES",
    "PIANO_ROWS",
    "PITCH_CLASS_NAMES",
    "SECONDS_PER_COLUMN_AT_120_BPM",
    "VOICES",
    "WINDOW",
    "bar_stride",
    "binarize",
    "check_roll",
    "check_window_width",
    "cut_windows",
    "music_span",
    "pitch_name",
    "plot_roll",
    "transpose",
    "transpose_on_piano",
    "voice_planes",
    "window_count",
    "windows",
]

PITCH_CLASS_NAMES = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"]


def pitch_name(midi_pitch: int) -> str:
    """Scientific pitch name of a MIDI pitch: 60 -> 'C4', 21 -> 'A0'."""
    return f"{PITCH_CLASS_NAMES[midi_pitch % 12]}{midi_pitch // 12 - 1}"


def binarize(values: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Turn generator output in [0, 1] (any trailing channel axis of size 1) into a bool roll.

    A pixel sounds when its value is at least ``threshold``: the threshold alone. The
    commands decide a generator's notes with ``music.strays.decide_notes``, which also
    holds back the stray notes the generator is unsure of.
    """
    values = np.asarray(values)
    if values.ndim >= 3 and values.shape[-1] == 1:
        values = values[..., 0]
    return values >= threshold


def check_roll(roll: np.ndarray, name: str = "roll", allow_empty: bool = False) -> np.ndarray:
    """Return ``roll`` as a bool array of shape (106, T >= 1) (T >= 0 with ``allow_empty``)."""
    roll = np.asarray(roll)
    if roll.ndim != 2 or roll.shape[0] != N_PITCHES or roll.shape[1] < (0 if allow_empty else 1):
        raise ShapeError(f"{name}: expected a roll of shape ({N_PITCHES}, T>=1), got {roll.shape}")
    return roll.astype(bool, copy=False)


def windows(roll: np.ndarray, columns: int = WINDOW, stride: int | None = None) -> list[tuple[int, np.ndarray]]:
    """Cut a piece into windows of ``columns`` columns starting every ``stride`` columns.

    Returns ``(k, window)`` pairs where window ``k`` covers columns ``k*stride`` up to
    ``k*stride + columns``; the stride defaults to the width (consecutive windows). A
    bar-aligned piece is cut at a whole number of bars (``bar_stride``), so every window
    starts on beat 1 and neighbours share a few columns. Windows with no sounding note
    are skipped (a long silence does not end the piece, unlike the seed's converter);
    the last, partial window is padded with silence.
    """
    roll = check_roll(roll, allow_empty=True)
    check_window_width(columns)
    stride = columns if stride is None else stride
    if not 1 <= stride <= columns:
        raise OptionError("stride", f"must be 1..columns ({columns}), got {stride}")
    count = window_count(roll.shape[1], columns, stride)
    if count == 0:
        return []
    padded = np.zeros((N_PITCHES, (count - 1) * stride + columns), dtype=bool)
    padded[:, : roll.shape[1]] = roll
    cut = np.lib.stride_tricks.sliding_window_view(padded, columns, axis=1)[:, ::stride].transpose(1, 0, 2)
    return [(int(k), cut[k].copy()) for k in np.flatnonzero(cut.any(axis=(1, 2)))]


def cut_windows(roll: np.ndarray, ks: list[int], columns: int, stride: int) -> np.ndarray:
    """Windows ``ks`` of a roll of any dtype (106, T), as ``windows`` cuts them: (len(ks), 106, columns), silence after the end."""
    out = np.zeros((len(ks), roll.shape[0], columns), dtype=roll.dtype)
    for slot, k in enumerate(ks):
        part = roll[:, k * stride : k * stride + columns]
        out[slot, :, : part.shape[1]] = part
    return out


def voice_planes(masks: np.ndarray, axis: int = -1) -> np.ndarray:
    """Voice masks (uint8, bit ``i`` for ``VOICES[i]``) as one bool plane per voice, stacked along ``axis``."""
    bits = np.arange(len(VOICES), dtype=np.uint8)
    return np.stack([(masks >> bit) & 1 for bit in bits], axis=axis).astype(bool)


def check_window_width(columns: int, parameter: str = "columns") -> None:
    """Raise an ``OptionError`` naming ``parameter`` unless ``columns`` is a window width, 1 to ``MAX_COLUMNS``."""
    if not 1 <= columns <= MAX_COLUMNS:
        raise OptionError(parameter, f"must be 1..{MAX_COLUMNS} columns, got {columns}")


def window_count(length: int, columns: int, stride: int) -> int:
    """Windows needed to cover ``length`` columns: the first at 0, then every ``stride``."""
    return 0 if length <= 0 else 1 + max(0, -(-(length - columns) // stride))


def bar_stride(columns: int, bar: int) -> int:
    """The whole number of bars that fits in a window (at least one bar, at most the width)."""
    return max(1, columns // bar) * bar if bar <= columns else columns


def transpose(roll: np.ndarray, semitones: int) -> np.ndarray:
    """Shift a roll (106, T) by ``semitones`` rows (up is positive), filling with silence."""
    if semitones == 0:
        return roll
    shifted = np.zeros_like(roll)
    if semitones > 0:
        shifted[semitones:] = roll[:-semitones]
    else:
        shifted[:semitones] = roll[-semitones:]
    return shifted


def transpose_on_piano(roll: np.ndarray, semitones: int) -> np.ndarray:
    """``transpose``, with each row the move would take off the piano (below row 0 or above
    row ``PIANO_ROWS - 1``) moved by whole octaves back onto it, merged with what sounds there.

    A key change of a window that spans nearly the whole keyboard has no move that keeps
    every note on it; an octave's fold keeps the notes' pitch classes, so the harmony, where
    dropping them would lose notes and leaving them would write pitches no piano has.
    """
    shifted = np.zeros_like(roll)
    for row in np.flatnonzero(roll.any(axis=1)):
        target = int(row) + semitones
        target -= 12 * ((target - (PIANO_ROWS - 1) + 11) // 12) if target >= PIANO_ROWS else 0
        target += 12 * ((-target + 11) // 12) if target < 0 else 0
        shifted[target] = np.maximum(shifted[target], roll[row])
    return shifted


def last_bar_start(columns: int) -> int:
    """The first column of the last whole bar of ``columns``: a window's end is that bar
    and the partial one after it (columns 272..299 of a 300-column window), which a
    figure read bar by bar leaves out. 0 for fewer than two bars."""
    return max(0, (columns // COLUMNS_PER_BAR - 1) * COLUMNS_PER_BAR)


def music_span(windows: np.ndarray) -> np.ndarray:
    """Share of each window's width from its first to its last sounding column (0 if silent)."""
    sounding = windows.any(axis=1)
    width = windows.shape[2]
    first = sounding.argmax(axis=1)
    last = width - 1 - sounding[:, ::-1].argmax(axis=1)
    return np.where(sounding.any(axis=1), (last - first + 1) / width, 0.0)


# More columns than any picture has pixels across: a wider roll is drawn from the lit
# pixels of groups of columns, so that drawing a 9-hour roll takes a second, not minutes.
MAX_DRAWN_COLUMNS = 4096


def _drawable(rows: np.ndarray) -> tuple[np.ndarray, int]:
    """``rows`` with every ``factor`` columns merged (lit where any is), and ``factor``."""
    factor = -(-rows.shape[1] // MAX_DRAWN_COLUMNS)
    if factor == 1:
        return rows, 1
    padded = np.zeros((rows.shape[0], -(-rows.shape[1] // factor) * factor), dtype=bool)
    padded[:, : rows.shape[1]] = rows
    return padded.reshape(rows.shape[0], -1, factor).any(axis=2), factor


def plot_roll(
    roll: np.ndarray,
    ax=None,
    seconds_per_column: float = SECONDS_PER_COLUMN_AT_120_BPM,
    title: str | None = None,
    pitch_range: tuple[int, int] | None = None,
):
    """Draw a roll for people, as a piano-roll editor does: high notes on top.

    The x axis shows seconds (bottom) and bars of 16 columns (top, 4/4 assumed); the y axis
    names the C of each octave. ``pitch_range=(low, high)`` limits the MIDI pitches shown;
    by default the piano's 88 keys. Returns the matplotlib Axes.
    """
    from matplotlib.ticker import MaxNLocator

    roll = check_roll(roll)
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(min(14, 2 + roll.shape[1] / 30), 4))
    low, high = pitch_range or (LOWEST_PITCH, LOWEST_PITCH + PIANO_ROWS - 1)
    rows, factor = _drawable(roll[low - LOWEST_PITCH : high - LOWEST_PITCH + 1])
    width = roll.shape[1]
    ax.imshow(
        rows,
        origin="lower",
        aspect="auto",
        cmap="Greys",
        interpolation="nearest",
        vmin=0,
        vmax=1,
        extent=(0, rows.shape[1] * factor * seconds_per_column, low - 0.5, high + 0.5),
    )
    ax.set_xlim(0, width * seconds_per_column)
    octave_cs = [p for p in range(low, high + 1) if p % 12 == 0]
    ax.set_yticks(octave_cs)
    ax.set_yticklabels([pitch_name(p) for p in octave_cs])
    ax.set_xlabel("time (s)")
    ax.set_ylabel("pitch")
    bar_seconds = 16 * seconds_per_column
    bars = ax.secondary_xaxis("top", functions=(lambda s: s / bar_seconds + 1, lambda b: (b - 1) * bar_seconds))
    bars.xaxis.set_major_locator(MaxNLocator(integer=True))
    bars.set_xlabel("bar")
    ax.grid(axis="x", color="#c8d4e6", linewidth=0.5)
    if title:
        ax.set_title(title)
    return ax

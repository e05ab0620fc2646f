"""Stray notes: one-column notes far from every other sound, and how a generator's are decided.

A stray note lasts one column (a sixteenth) and no other sounding pixel lies within
``ISOLATION_SEMITONES - 1`` semitones of it (closer than a fifth) from ``ISOLATION_COLUMNS``
columns before it to as many after. Real POP909 windows have few (0.5% of their notes);
the generators trained here write about twice as many, and those are the notes they are
least sure of: the median probability of the shipped generator's stray notes is 0.55,
against 0.82 for all its sounding pixels and 0.59 for all its one-column notes
(docs/results.md, "a decoding"). So a generator's probabilities are decided into notes
with one rule beside the threshold: a stray note is written only when its probability
reaches the threshold plus ``STRAY_MARGIN``. The margin is the one at which the shipped
generator's stray notes become as rare as the training windows' (0.5% of notes against
0.6%); a stray note the generator is sure of stays, as real music has some.
"""

from __future__ import annotations

import numpy as np

from pianogan.constants import ISOLATION_COLUMNS, ISOLATION_SEMITONES

STRAY_MARGIN = 0.05


def stray_notes(roll: np.ndarray) -> np.ndarray:
    """Bool mask, shaped like ``roll`` (..., 106, T), of the stray notes' pixels.

    Each stray note is one pixel: it starts and ends in the same column.
    """
    roll = np.asarray(roll, dtype=bool)
    single = roll.copy()
    single[..., 1:] &= ~roll[..., :-1]
    single[..., :-1] &= ~roll[..., 1:]
    reach, width = ISOLATION_SEMITONES - 1, roll.shape[-1]
    pad = [(0, 0)] * (roll.ndim - 2) + [(reach, reach), (ISOLATION_COLUMNS, ISOLATION_COLUMNS)]
    padded = np.pad(roll, pad).view(np.uint8)
    # Sounding pixels in each box of (2 * reach + 1) rows by (2 * ISOLATION_COLUMNS + 1)
    # columns, summed first over the columns, then over the rows: shifted sums of small
    # integers, faster here than a summed-area table or a look at each note alone.
    across = padded[..., :width].copy()
    for shift in range(1, 2 * ISOLATION_COLUMNS + 1):
        across += padded[..., shift : shift + width]
    near = across[..., : roll.shape[-2], :].copy()
    for shift in range(1, 2 * reach + 1):
        near += across[..., shift : shift + roll.shape[-2], :]
    return single & (near == 1)  # the note itself, and nothing else


def decide_notes(probabilities: np.ndarray, threshold: float = 0.5, margin: float = STRAY_MARGIN) -> np.ndarray:
    """The notes a generator's probabilities (..., 106, T) write: each pixel at ``threshold``,
    and a stray note only at ``threshold + margin`` (``margin=0``: the threshold alone)."""
    probabilities = np.asarray(probabilities)
    roll = probabilities >= threshold
    if margin:
        roll &= ~(stray_notes(roll) & (probabilities < threshold + margin))
    return roll

"""Per-piece musical metrics on binary piano rolls, one small function per metric.

A roll is a bool array ``(106, T)`` (row ``r`` = MIDI pitch ``21 + r``, one column = a
sixteenth note). A *note* is a maximal horizontal run of lit pixels in one row and its
*onset* is the run's first column; a run touching column 0 starts there, since a window
cannot see what came before it.

Every metric also takes a stack ``(..., 106, T)`` and returns one value per roll, so
``features`` can measure thousands of windows in a few vectorised passes instead of a
Python loop per note. Where a metric is undefined (a mean over no notes, a share of no
sounding columns) it is NaN, never a made-up 0; counts and shares of columns stay defined
for a silent roll (0 notes, 0 lit share, every beat empty). Downstream code drops or
models the NaNs.

The definitions follow muspy (Dong et al., "MusPy: A toolkit for symbolic music
generation", ISMIR 2020), MGEval (Yang & Lerch, "On the evaluation of generative models
in music", Neural Computing and Applications 2018), MuseGAN (Dong et al., AAAI 2018) and
BinaryMuseGAN (Dong & Yang, ISMIR 2018); each docstring says where ours differs and why.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from pianogan.roll import LOWEST_PITCH, N_PITCHES, PIANO_ROWS

BEAT = 4  # columns per quarter-note beat
QUALIFIED_LENGTH = 2  # columns: a note shorter than an eighth is a fragment on our grid
LENGTH_BIN_STARTS = (1, 2, 3, 4, 5, 9, 17)  # note-length bins: 1, 2, 3, 4, 5-8, 9-16, 17+ columns
LENGTH_BIN_LABELS = tuple(
    str(a) if b == a + 1 else f"{a}-{b - 1}" for a, b in zip(LENGTH_BIN_STARTS, LENGTH_BIN_STARTS[1:])
) + (f"{LENGTH_BIN_STARTS[-1]}+",)
MAJOR = np.array([0, 2, 4, 5, 7, 9, 11])
NATURAL_MINOR = np.array([0, 2, 3, 5, 7, 8, 10])

_PITCHES = LOWEST_PITCH + np.arange(N_PITCHES)
_PITCH_CLASS_OF_ROW = np.eye(12)[_PITCHES % 12]  # (106, 12): folds rows onto pitch classes


def _scale_masks() -> np.ndarray:
    """(12, 24) membership: column k < 12 is the major scale on tonic k, k >= 12 the minor on k - 12."""
    masks = np.zeros((12, 24))
    for tonic in range(12):
        masks[(tonic + MAJOR) % 12, tonic] = 1
        masks[(tonic + NATURAL_MINOR) % 12, 12 + tonic] = 1
    return masks


_SCALES = _scale_masks()


def _rolls(roll: np.ndarray) -> np.ndarray:
    roll = np.asarray(roll)
    if roll.ndim < 2 or roll.shape[-2] != N_PITCHES or roll.shape[-1] < 1:
        raise ValueError(f"expected a roll of shape (..., {N_PITCHES}, T >= 1), got {roll.shape}")
    return roll.astype(bool, copy=False)


def _ratio(numerator, denominator) -> np.ndarray | float:
    """``numerator / denominator`` with NaN where the denominator is 0 (undefined)."""
    numerator = np.asarray(numerator, dtype=float)
    denominator = np.asarray(denominator, dtype=float)
    out = np.full(np.broadcast_shapes(numerator.shape, denominator.shape), np.nan)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out[()]


def onsets(roll: np.ndarray) -> np.ndarray:
    """Bool array of note onsets: lit pixels whose left neighbour (same row) is dark."""
    roll = _rolls(roll)
    starts = roll.copy()
    starts[..., 1:] &= ~roll[..., :-1]
    return starts


def _count(mask: np.ndarray) -> np.ndarray:
    return np.count_nonzero(mask, axis=(-2, -1))


def _column_counts(roll: np.ndarray) -> np.ndarray:
    """Number of pitches sounding in each column, shape (..., T)."""
    return np.count_nonzero(_rolls(roll), axis=-2)


def _notes_at_least(roll: np.ndarray, lengths: tuple[int, ...]) -> np.ndarray:
    """Number of notes lasting at least each of ``lengths`` (increasing) columns, (..., len).

    An onset at column c starts a note of length >= L when columns c .. c+L-1 are all lit,
    so each longer length is one more AND with the roll shifted left: no per-note loop.
    """
    roll = _rolls(roll)
    out = np.zeros(roll.shape[:-2] + (len(lengths),), dtype=np.int64)
    started = onsets(roll)
    for length in range(1, max(lengths) + 1):
        if length > 1:
            started = started[..., :-1] & roll[..., length - 1 :]
        for i, wanted in enumerate(lengths):
            if wanted == length:
                out[..., i] = _count(started)
    return out


def _pitch_classes(per_row: np.ndarray) -> np.ndarray:
    """Fold per-row values (..., 106) onto the 12 pitch classes (C = 0)."""
    return per_row @ _PITCH_CLASS_OF_ROW


def note_count(roll: np.ndarray) -> np.ndarray | int:
    """Number of notes (maximal runs of lit pixels in a row).

    The basic size measure of MGEval's note count (NC, Yang & Lerch 2018). 0 for a silent
    roll.
    """
    return _count(onsets(roll))[()]


def lit_share(roll: np.ndarray) -> np.ndarray | float:
    """Share of all 106 x T pixels that are lit (about 0.03 in POP909 windows).

    Not from the literature: the first number to watch in a GAN on piano rolls, which tends
    to collapse to silence or to noise. 0 for a silent roll.
    """
    roll = _rolls(roll)
    return _ratio(_count(roll), roll.shape[-2] * roll.shape[-1])


def onsets_per_column(roll: np.ndarray) -> np.ndarray | float:
    """Notes started per column (sixteenth): note count / T.

    A density measure independent of note length, comparable across window widths.
    0 for a silent roll.
    """
    roll = _rolls(roll)
    return _ratio(_count(onsets(roll)), roll.shape[-1])


def mean_note_length(roll: np.ndarray) -> np.ndarray | float:
    """Mean note length in columns: lit pixels / notes (each lit pixel is in one note).

    MGEval's average note length (NLH's mean, Yang & Lerch 2018) on our grid. Notes cut by
    the window's edges count with their visible length. NaN without notes.
    """
    roll = _rolls(roll)
    return _ratio(_count(roll), _count(onsets(roll)))


def note_length_histogram(roll: np.ndarray, bin_starts: tuple[int, ...] = LENGTH_BIN_STARTS) -> np.ndarray:
    """Share of notes per length bin, shape (..., len(bin_starts)); NaN without notes.

    Bin ``i`` holds lengths ``bin_starts[i] .. bin_starts[i+1] - 1`` columns, the last
    bin everything longer; the default bins are 1, 2, 3, 4, 5-8, 9-16 and 17+ columns
    (sixteenth, eighth, dotted eighth, quarter, up to a half, up to a whole, longer).
    MGEval's note length histogram (NLH, Yang & Lerch 2018) uses note-value classes; on a
    sixteenth grid these length ranges play that role.
    """
    at_least = _notes_at_least(roll, tuple(bin_starts)).astype(float)
    counts = at_least - np.concatenate([at_least[..., 1:], np.zeros_like(at_least[..., :1])], axis=-1)
    return _ratio(counts, at_least[..., :1])


def qualified_note_rate(roll: np.ndarray, min_length: int = QUALIFIED_LENGTH) -> np.ndarray | float:
    """Share of notes at least ``min_length`` columns long (MuseGAN's QN).

    Dong et al. 2018 (MuseGAN) and Dong & Yang 2018 (BinaryMuseGAN) count notes of at least
    a 32nd note at 24 steps per beat; a sixteenth is our smallest step, so the default
    asks for two columns (an eighth): low values mean fragmented notes, the typical
    failure of a thresholded continuous generator. NaN without notes.
    """
    total, longer = np.moveaxis(_notes_at_least(roll, (1, min_length)), -1, 0)
    return _ratio(longer, total)


def polyphony(roll: np.ndarray) -> np.ndarray | float:
    """Mean number of pitches sounding, over the columns where at least one sounds.

    muspy's ``polyphony``. NaN for a silent roll.
    """
    counts = _column_counts(roll)
    return _ratio(counts.sum(axis=-1), np.count_nonzero(counts, axis=-1))


def polyphony_rate(roll: np.ndarray, threshold: int = 2) -> np.ndarray | float:
    """Share of ALL columns with at least ``threshold`` pitches sounding (muspy).

    muspy's ``polyphony_rate``; BinaryMuseGAN's code computes its polyphonicity the same
    way. Silence counts in the denominator, so this mixes texture with rests; see
    ``polyphonicity`` for texture alone. 0 for a silent roll.
    """
    counts = _column_counts(roll)
    return _ratio(np.count_nonzero(counts >= threshold, axis=-1), counts.shape[-1])


def polyphonicity(roll: np.ndarray, threshold: int = 2) -> np.ndarray | float:
    """Share of SOUNDING columns with at least ``threshold`` pitches (after BinaryMuseGAN's PP).

    Dong & Yang 2018 define PP as the share of time steps with several pitches; we divide
    by the columns where anything sounds (not by all columns, as ``polyphony_rate`` does),
    so a piece with rests is not counted as less polyphonic. NaN for a silent roll.
    """
    counts = _column_counts(roll)
    return _ratio(np.count_nonzero(counts >= threshold, axis=-1), np.count_nonzero(counts, axis=-1))


def empty_beat_rate(roll: np.ndarray, beat: int = BEAT) -> np.ndarray | float:
    """Share of beats (groups of ``beat`` columns) in which nothing sounds (muspy).

    muspy's ``empty_beat_rate`` / Pypianoroll; MuseGAN's empty-bar rate on beats. A last,
    partial beat counts as a beat. 1 for a silent roll.
    """
    sounding = _column_counts(roll) > 0
    n_beats = -(-sounding.shape[-1] // beat)
    padded = np.zeros(sounding.shape[:-1] + (n_beats * beat,), dtype=bool)
    padded[..., : sounding.shape[-1]] = sounding
    busy = padded.reshape(sounding.shape[:-1] + (n_beats, beat)).any(axis=-1)
    return _ratio(n_beats - np.count_nonzero(busy, axis=-1), n_beats)


def _rows_used(roll: np.ndarray) -> np.ndarray:
    return _rolls(roll).any(axis=-1)


def lowest_pitch(roll: np.ndarray) -> np.ndarray | float:
    """Lowest sounding MIDI pitch; NaN for a silent roll."""
    used = _rows_used(roll)
    first = np.argmax(used, axis=-1)
    return np.where(used.any(axis=-1), LOWEST_PITCH + first, np.nan)[()]


def highest_pitch(roll: np.ndarray) -> np.ndarray | float:
    """Highest sounding MIDI pitch; NaN for a silent roll."""
    used = _rows_used(roll)
    last = used.shape[-1] - 1 - np.argmax(used[..., ::-1], axis=-1)
    return np.where(used.any(axis=-1), LOWEST_PITCH + last, np.nan)[()]


def pitch_range(roll: np.ndarray) -> np.ndarray | float:
    """Highest minus lowest sounding pitch, in semitones (muspy ``pitch_range``; MGEval PR).

    NaN for a silent roll (muspy returns 0, which would read as "one pitch").
    """
    return highest_pitch(roll) - lowest_pitch(roll)


def mean_pitch(roll: np.ndarray) -> np.ndarray | float:
    """Mean MIDI pitch of the notes (each note once); the register of the piece.

    NaN without notes.
    """
    per_row = np.count_nonzero(onsets(roll), axis=-1)
    return _ratio(per_row @ _PITCHES, per_row.sum(axis=-1))


def n_pitches_used(roll: np.ndarray) -> np.ndarray | int:
    """Number of distinct pitches sounding (muspy ``n_pitches_used``; MGEval PC). 0 when silent."""
    return np.count_nonzero(_rows_used(roll), axis=-1)[()]


def n_pitch_classes_used(roll: np.ndarray) -> np.ndarray | int:
    """Number of distinct pitch classes sounding (muspy ``n_pitch_classes_used``). 0 when silent."""
    return np.count_nonzero(_pitch_classes(_rows_used(roll).astype(float)) > 0, axis=-1)[()]


def pitch_class_histogram(roll: np.ndarray) -> np.ndarray:
    """Share of notes per pitch class C, C#, ..., B, shape (..., 12); NaN without notes.

    MGEval's pitch class histogram (PCH, Yang & Lerch 2018) and the distribution behind
    muspy's ``pitch_class_entropy``: each note counts once, whatever its length.
    """
    per_class = _pitch_classes(np.count_nonzero(onsets(roll), axis=-1).astype(float))
    return _ratio(per_class, per_class.sum(axis=-1, keepdims=True))


def pitch_class_entropy(roll: np.ndarray) -> np.ndarray | float:
    """Shannon entropy (bits) of the pitch class histogram (muspy ``pitch_class_entropy``).

    0 for one pitch class, log2(12) = 3.58 for all twelve equally often; tonal music sits
    in between. NaN without notes.
    """
    shares = pitch_class_histogram(roll)
    terms = np.where(shares > 0, shares * np.log2(np.where(shares > 0, shares, 1.0)), 0.0)
    return np.where(np.isnan(shares).any(axis=-1), np.nan, -terms.sum(axis=-1))[()]


def scale_consistency(roll: np.ndarray) -> np.ndarray | float:
    """Largest share of note time inside one of the 24 major and natural minor scales.

    muspy's ``scale_consistency`` (after Mogren's C-RNN-GAN) counts notes; we weight each
    note by its length (lit pixels), so a chord tone held for a bar outweighs a passing
    sixteenth and fragmented notes do not vote more than once per pixel. About 0.98 in
    POP909 windows. NaN for a silent roll.
    """
    time_per_class = _pitch_classes(np.count_nonzero(_rolls(roll), axis=-1).astype(float))
    return _ratio((time_per_class @ _SCALES).max(axis=-1), time_per_class.sum(axis=-1))


def _note_list(roll: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Notes of a stack as flat arrays (piece, onset column, row), sorted by piece, onset, row."""
    starts = onsets(roll)
    stack = starts.reshape((int(np.prod(starts.shape[:-2])),) + starts.shape[-2:])
    piece, column, row = np.nonzero(stack.transpose(0, 2, 1))
    return piece, column, row, stack.shape[0]


def mean_pitch_interval(roll: np.ndarray) -> np.ndarray | float:
    """Mean absolute interval (semitones) between successive notes, ordered by onset then pitch.

    MGEval's average pitch interval (PI, Yang & Lerch 2018) takes successive notes of the
    note list, chords included; we fix that list's order (onset, then low to high), so a
    chord contributes its spacing and the step to the next onset contributes the leap.
    NaN with fewer than two notes.
    """
    roll = _rolls(roll)
    piece, _, row, n = _note_list(roll)
    same = piece[1:] == piece[:-1]
    steps = np.abs(np.diff(row))[same]
    total = np.bincount(piece[1:][same], weights=steps, minlength=n)
    count = np.bincount(piece[1:][same], minlength=n)
    return _ratio(total, count).reshape(roll.shape[:-2])[()]


def mean_inter_onset_interval(roll: np.ndarray) -> np.ndarray | float:
    """Mean gap (columns) between successive distinct onset times.

    MGEval's average inter-onset interval (IOI, Yang & Lerch 2018) differences the onsets
    of all notes, so each chord adds zero gaps; we take each onset time once, so the value
    is the typical rhythmic step (4 = one event per beat). The gaps telescope: this is
    (last onset - first onset) / (onset times - 1). NaN with fewer than two onset times.
    """
    hit = onsets(roll).any(axis=-2)
    n_hits = np.count_nonzero(hit, axis=-1)
    first = np.argmax(hit, axis=-1)
    last = hit.shape[-1] - 1 - np.argmax(hit[..., ::-1], axis=-1)
    return _ratio(last - first, n_hits - 1)


def outside_piano_share(roll: np.ndarray) -> np.ndarray | float:
    """Share of notes in rows 88..105 (pitches 109..126), above the piano's top key.

    Real data has none there; a generator that paints these rows has not learnt the
    instrument. NaN without notes.
    """
    per_row = np.count_nonzero(onsets(roll), axis=-1)
    return _ratio(per_row[..., PIANO_ROWS:].sum(axis=-1), per_row.sum(axis=-1))


SCALAR_METRICS: dict[str, Callable[[np.ndarray], np.ndarray | float]] = {
    "note_count": note_count,
    "lit_share": lit_share,
    "onsets_per_column": onsets_per_column,
    "mean_note_length": mean_note_length,
    "qualified_note_rate": qualified_note_rate,
    "polyphony": polyphony,
    "polyphony_rate": polyphony_rate,
    "polyphonicity": polyphonicity,
    "empty_beat_rate": empty_beat_rate,
    "mean_pitch": mean_pitch,
    "pitch_range": pitch_range,
    "n_pitches_used": n_pitches_used,
    "n_pitch_classes_used": n_pitch_classes_used,
    "pitch_class_entropy": pitch_class_entropy,
    "scale_consistency": scale_consistency,
    "mean_pitch_interval": mean_pitch_interval,
    "mean_inter_onset_interval": mean_inter_onset_interval,
    "outside_piano_share": outside_piano_share,
}
FEATURE_NAMES = tuple(SCALAR_METRICS)


def piece_features(roll: np.ndarray) -> dict[str, float]:
    """Every scalar metric of one roll ``(106, T)``, by name (NaN where undefined)."""
    roll = _rolls(roll)
    if roll.ndim != 2:
        raise ValueError(f"piece_features takes one roll (106, T), got {roll.shape}; use features for a stack")
    return {name: float(metric(roll)) for name, metric in SCALAR_METRICS.items()}


def features(rolls: np.ndarray, batch: int = 256, progress: bool = False) -> np.ndarray:
    """Scalar metrics of a stack ``(N, 106, T)`` as a float array ``(N, len(FEATURE_NAMES))``.

    Column ``j`` is ``FEATURE_NAMES[j]``. Works on batches of ``batch`` rolls, so memory
    stays bounded and 2,000 windows of 106 x 300 take about a second on two cores.
    """
    from tqdm import tqdm

    rolls = _rolls(rolls)
    out = np.empty((len(rolls), len(SCALAR_METRICS)))
    for start in tqdm(range(0, len(rolls), batch), desc="metrics", unit="batch", disable=not progress, leave=False):
        chunk = rolls[start : start + batch]
        for j, metric in enumerate(SCALAR_METRICS.values()):
            out[start : start + len(chunk), j] = metric(chunk)
    return out

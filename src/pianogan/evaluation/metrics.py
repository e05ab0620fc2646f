"""Per-piece musical metrics on binary piano rolls, one small function per metric.

A roll is a bool array ``(106, T)`` (row ``r`` = MIDI pitch ``21 + r``, one column = a
sixteenth note, 4/4 bars of 16 columns starting at column 0). A *note* is a maximal
horizontal run of lit pixels in one row and its *onset* is the run's first column; a run
touching column 0 starts there, since a window cannot see what came before it.

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
A metric named as one of muspy's or pypianoroll's computes that library's definition
(``tests/test_metrics_crosscheck.py`` checks it against muspy 0.5 and pypianoroll 1.0);
where ours differs, its name differs too or its docstring pins the difference.

The structure metrics (metre, bass, top voice, repetition, drones and stray notes) read
the bar grid: they assume bar-aligned windows, as ``pianogan prepare`` writes them.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from functools import partial

import numpy as np

from pianogan.constants import DRONE_LENGTH
from pianogan.errors import ShapeError
from pianogan.music import keys, strays
from pianogan.roll import COLUMNS_PER_BAR as BAR
from pianogan.roll import COLUMNS_PER_QUARTER as BEAT  # columns per quarter-note beat
from pianogan.roll import LOWEST_PITCH, N_PITCHES, PIANO_ROWS, PITCH_CLASS_NAMES, last_bar_start

EIGHTH = 2  # columns: a note shorter than an eighth is a fragment on our grid
LENGTH_BIN_STARTS = (1, 2, 3, 4, 5, 9, 17)  # note-length bins: 1, 2, 3, 4, 5-8, 9-16, 17+ columns
LENGTH_BIN_LABELS = (*tuple(str(a) if b == a + 1 else f"{a}-{b - 1}" for a, b in itertools.pairwise(LENGTH_BIN_STARTS)), f"{LENGTH_BIN_STARTS[-1]}+")
BASS_BELOW = 60  # MIDI pitch (C4): the lowest onset of a column below it is a bass note
STEPWISE = 2  # semitones: a top-voice move of 1 or 2 is a step

_PITCHES = LOWEST_PITCH + np.arange(N_PITCHES)
_PITCH_CLASS_OF_ROW = np.eye(12)[_PITCHES % 12]  # (106, 12): folds rows onto pitch classes
_KEY_SCALES = np.array([keys.scale_mask(key) for key in range(24)])  # (24, 12), keys.py's key order


def _rolls(roll: np.ndarray) -> np.ndarray:
    roll = np.asarray(roll)
    if roll.ndim < 2 or roll.shape[-2] != N_PITCHES or roll.shape[-1] < 1:
        raise ShapeError(f"expected a roll of shape (..., {N_PITCHES}, T >= 1), got {roll.shape}")
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
    out = np.zeros((*roll.shape[:-2], len(lengths)), dtype=np.int64)
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


def _stack(roll: np.ndarray) -> np.ndarray:
    """A roll or a stack of any leading shape as a 3-D stack (N, 106, T)."""
    roll = _rolls(roll)
    return roll.reshape((-1, *roll.shape[-2:]))


def _onset_counts(roll: np.ndarray) -> np.ndarray:
    """Number of notes starting in each column, shape (..., T)."""
    return np.count_nonzero(onsets(roll), axis=-2)


def _bars(values: np.ndarray) -> np.ndarray:
    """The whole bars of a (..., T) array as (..., bars, 16); a last, partial bar is left out."""
    bars = values.shape[-1] // BAR
    return values[..., : bars * BAR].reshape((*values.shape[:-1], bars, BAR))


def _bar_pitch_class_time(roll: np.ndarray) -> np.ndarray:
    """Lit pixels per pitch class in each whole bar, shape (..., bars, 12)."""
    per_row = np.count_nonzero(_bars(_rolls(roll)), axis=-1)
    return _pitch_classes(np.swapaxes(per_row, -1, -2).astype(float))


def _bar_onset_patterns(roll: np.ndarray) -> np.ndarray:
    """Which of each whole bar's 16 columns start a note (any pitch), shape (..., bars, 16), 0/1."""
    return _bars(onsets(roll).any(axis=-2)).astype(float)


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


def notes_at_least_an_eighth_share(roll: np.ndarray) -> np.ndarray | float:
    """Share of notes at least two columns (an eighth note) long; NaN without notes.

    Built after MuseGAN's qualified note rate (QN; Dong et al. 2018, Dong & Yang 2018),
    but NOT comparable with its figures, hence the different name: QN counts notes of at
    least three time steps at 24 steps per beat (a 32nd note), which on our sixteenth grid
    is every note. Asking for an eighth instead keeps the figure's purpose (low values
    mean fragmented notes, the typical failure of a thresholded continuous generator).
    """
    total, longer = np.moveaxis(_notes_at_least(roll, (1, EIGHTH)), -1, 0)
    return _ratio(longer, total)


def polyphony(roll: np.ndarray) -> np.ndarray | float:
    """Mean number of pitches sounding, over the columns where at least one sounds.

    muspy's ``polyphony``. NaN for a silent roll.
    """
    counts = _column_counts(roll)
    return _ratio(counts.sum(axis=-1), np.count_nonzero(counts, axis=-1))


def polyphony_rate(roll: np.ndarray, threshold: int = 2) -> np.ndarray | float:
    """Share of ALL T columns with MORE than ``threshold`` pitches sounding (muspy).

    muspy's ``polyphony_rate`` and pypianoroll's ``polyphonic_rate``, which MuseGAN reports
    as polyphonicity (PP): with the default threshold of 2, columns with three or more
    pitches count. pypianoroll divides by every time step of the array, as we divide by
    the window's width; muspy divides by the music's length, which a ``Music`` object
    takes to end with its last note, so the two agree when the last column sounds.
    Silence counts in the denominator, so this mixes texture with rests; see
    ``polyphonicity`` for texture alone. 0 for a silent roll (muspy: NaN, no length).
    """
    counts = _column_counts(roll)
    return _ratio(np.count_nonzero(counts > threshold, axis=-1), counts.shape[-1])


def polyphonicity(roll: np.ndarray, threshold: int = 2) -> np.ndarray | float:
    """Share of SOUNDING columns with at least ``threshold`` pitches (ours).

    Not MuseGAN's polyphonicity (PP), which is ``polyphony_rate``: PP counts time steps
    with more than two pitches among all time steps. Ours counts columns where at least
    two pitches sound among the columns where anything sounds, so a piece with rests is
    not counted as less polyphonic and a two-voice texture is polyphonic. NaN for a
    silent roll.
    """
    counts = _column_counts(roll)
    return _ratio(np.count_nonzero(counts >= threshold, axis=-1), np.count_nonzero(counts, axis=-1))


def empty_beat_rate(roll: np.ndarray, beat: int = BEAT) -> np.ndarray | float:
    """Share of beats (groups of ``beat`` columns) in which nothing sounds.

    The definition muspy's and pypianoroll's ``empty_beat_rate`` state (MuseGAN's empty-bar
    rate on beats); a last, partial beat counts as a beat. Their code departs from it in
    two ways we do not copy: muspy 0.5 also marks busy the beat in which a note's
    (exclusive) end falls, so a note ending on a beat line fills the next beat, and counts
    beats up to the last note's end; pypianoroll 1.0 returns the share of NON-empty beats.
    1 for a silent roll.
    """
    sounding = _column_counts(roll) > 0
    n_beats = -(-sounding.shape[-1] // beat)
    padded = np.zeros((*sounding.shape[:-1], n_beats * beat), dtype=bool)
    padded[..., : sounding.shape[-1]] = sounding
    busy = padded.reshape((*sounding.shape[:-1], n_beats, beat)).any(axis=-1)
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
    """Highest minus lowest sounding pitch, in semitones (muspy, pypianoroll ``pitch_range``; MGEval PR).

    NaN for a silent roll, as pypianoroll; muspy returns 0, which would read as "one pitch".
    """
    return highest_pitch(roll) - lowest_pitch(roll)


def largest_pitch_gap(roll: np.ndarray) -> np.ndarray | float:
    """Largest distance in semitones between neighbours among the distinct sounding pitches.

    Ours: real piano music fills its range (two hands a few octaves apart at most), while
    a generator's stray note far above or below the texture opens a wide gap that the
    pitch range alone confuses with a wide texture. NaN with fewer than two pitches.
    """
    used = _rows_used(roll)
    below = np.maximum.accumulate(np.where(used, np.arange(N_PITCHES), -1), axis=-1)[..., :-1]
    gaps = np.where(used[..., 1:] & (below >= 0), np.arange(1, N_PITCHES) - below, 0)
    return np.where(np.count_nonzero(used, axis=-1) >= 2, gaps.max(axis=-1), np.nan)[()]


def mean_pitch(roll: np.ndarray) -> np.ndarray | float:
    """Mean MIDI pitch of the notes (each note once); the register of the piece.

    NaN without notes.
    """
    per_row = np.count_nonzero(onsets(roll), axis=-1)
    return _ratio(per_row @ _PITCHES, per_row.sum(axis=-1))


def n_pitches_used(roll: np.ndarray) -> np.ndarray | int:
    """Number of distinct pitches sounding (muspy, pypianoroll ``n_pitches_used``; MGEval PC). 0 when silent."""
    return np.count_nonzero(_rows_used(roll), axis=-1)[()]


def n_pitch_classes_used(roll: np.ndarray) -> np.ndarray | int:
    """Number of distinct pitch classes sounding (muspy ``n_pitch_classes_used``). 0 when silent.

    pypianoroll 1.0's function of that name folds pitch p onto p // 10 instead of p % 12
    (its chroma reshape is transposed), so it disagrees with muspy and with us.
    """
    return np.count_nonzero(_pitch_classes(_rows_used(roll).astype(float)) > 0, axis=-1)[()]


def _notes_per_class(roll: np.ndarray) -> np.ndarray:
    """Notes per pitch class (each note once, whatever its length), shape (..., 12)."""
    return _pitch_classes(np.count_nonzero(onsets(roll), axis=-1).astype(float))


def pitch_class_histogram(roll: np.ndarray) -> np.ndarray:
    """Share of notes per pitch class C, C#, ..., B, shape (..., 12); NaN without notes.

    MGEval's pitch class histogram (PCH, Yang & Lerch 2018) and the distribution behind
    muspy's ``pitch_class_entropy``: each note counts once, whatever its length.
    """
    per_class = _notes_per_class(roll)
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
    """Largest share of notes inside one of the 24 major and natural minor scales (muspy).

    muspy's ``scale_consistency`` (after Mogren's C-RNN-GAN, 2016): each note counts once,
    whatever its length. See ``scale_consistency_by_duration`` for note time. NaN without
    notes.
    """
    per_class = _notes_per_class(roll)
    return _ratio((per_class @ _KEY_SCALES.T).max(axis=-1), per_class.sum(axis=-1))


def scale_consistency_by_duration(roll: np.ndarray) -> np.ndarray | float:
    """Largest share of note TIME (lit pixels) inside one of the 24 major and natural minor scales.

    ``scale_consistency`` weighted by length (ours): a chord tone held for a bar outweighs
    a passing sixteenth, and a fragmented note does not vote once per fragment. About 0.98
    in POP909 windows. NaN for a silent roll.
    """
    time_per_class = keys.pitch_class_time(_rolls(roll)).astype(float)
    return _ratio((time_per_class @ _KEY_SCALES.T).max(axis=-1), time_per_class.sum(axis=-1))


def out_of_key_share(roll: np.ndarray) -> np.ndarray | float:
    """Share of notes (each once) whose pitch class lies outside the window's key's scale.

    The key is ``keys.estimate_keys`` (Krumhansl-Schmuckler on duration-weighted pitch
    classes), its scale major or natural minor; the share is muspy's
    ``pitch_in_scale_rate`` (Dong et al. 2018) for that key, subtracted from 1. Unlike
    ``1 - scale_consistency`` it does not pick the scale that suits the notes best, so
    notes that contradict the key the window sounds in count. NaN without notes.
    """
    roll = _rolls(roll)
    per_class = _notes_per_class(roll)
    outside = ~_KEY_SCALES[keys.estimate_keys(roll)]
    return _ratio((per_class * outside).sum(axis=-1), per_class.sum(axis=-1))


def bar_triads(roll: np.ndarray) -> np.ndarray:
    """Each whole bar's chord as a triad index (..., bars): k < 12 is the major triad on
    pitch class k, k >= 12 the minor triad on k - 12 (``TRIAD_NAMES``).

    The triad holding the most note time (lit pixels) in the bar, after Fujishima's chroma
    template matching ("Realtime chord recognition of musical sound", ICMC 1999); equal
    triads go to the one whose root sounds longest, then to the first (C major). An empty
    bar reads as C major: look at its notes before naming it.
    """
    time = _bar_pitch_class_time(roll)
    score = time @ keys.TRIADS.T + time[..., keys.TRIAD_ROOTS] / (time.sum(axis=-1, keepdims=True) + 1)  # ties < 1 pixel
    return np.argmax(score, axis=-1)


TRIAD_NAMES = tuple([*PITCH_CLASS_NAMES, *(f"{name}m" for name in PITCH_CLASS_NAMES)])


def bass_on_chord_root(roll: np.ndarray) -> np.ndarray | float:
    """Share of bars whose bass is the root of the bar's chord.

    Each whole bar's chord is the major or minor triad (24 templates) holding the most
    note time (``bar_triads``), on triads only: a seventh chord reads as whichever of its
    two triads holds more time (A-C-E-G equally held reads as C major, C-E-G-Bb as C
    major). The bass is the lowest pitch
    sounding in the bar's first beat. Pop accompaniment mostly
    plays root-position chords; a generator that writes chords without a bass line under
    them scores low. Bars with nothing in their first beat are left out; NaN when all are
    (or the window is shorter than a bar).
    """
    roll = _rolls(roll)
    root = keys.TRIAD_ROOTS[bar_triads(roll)]
    first_beat = _bars(roll)[..., :BEAT].any(axis=-1)  # (..., 106, bars)
    bass = (LOWEST_PITCH + np.argmax(first_beat, axis=-2)) % 12
    counted = first_beat.any(axis=-2)
    return _ratio(np.count_nonzero(counted & (bass == root), axis=-1), np.count_nonzero(counted, axis=-1))


def _note_list(roll: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Notes of a stack as flat arrays (piece, onset column, row), sorted by piece, onset, row."""
    stack = onsets(_stack(roll))
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


def top_voice(roll: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The top voice of each roll in a stack (..., 106, T): the highest sounding row of each
    column (..., T), and which columns start one of its notes (..., T), bool.

    The top voice is a skyline (Uitdenbogerd & Zobel, "Manipulation of music for melody
    matching", ACM Multimedia 1998): its notes are the notes that start as the highest
    pitch sounding in their column. A lower note starting under a held melody note does
    not enter it, nor does the held note enter twice. A silent column starts nothing (its
    row is meaningless).
    """
    roll = _rolls(roll)
    top = N_PITCHES - 1 - np.argmax(roll[..., ::-1, :], axis=-2)
    starts = np.take_along_axis(onsets(roll), top[..., None, :], axis=-2)[..., 0, :]
    return top, starts


def _top_voice_moves(roll: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """(piece, absolute interval) of each move of the top voice (``top_voice``), and the number of pieces."""
    stack = _stack(roll)
    top, starts = top_voice(stack)
    piece, column = np.nonzero(starts)
    pitch = top[piece, column]
    same = piece[1:] == piece[:-1]
    return piece[1:][same], np.abs(np.diff(pitch))[same], stack.shape[0]


def top_voice_stepwise_share(roll: np.ndarray) -> np.ndarray | float:
    """Share of the top voice's moves that are steps (1 or 2 semitones), repeated notes left out.

    Melodies move mostly by step (Huron, "Sweet Anticipation", 2006, ch. 5: pitch
    proximity); a generator's top line that leaps around has not learnt melody. A repeated
    note (interval 0) is neither a step nor a leap and is not counted. NaN when the top
    voice never changes pitch.
    """
    roll = _rolls(roll)
    piece, steps, n = _top_voice_moves(roll)
    moving = steps > 0
    stepwise = np.bincount(piece[moving & (steps <= STEPWISE)], minlength=n)
    return _ratio(stepwise, np.bincount(piece[moving], minlength=n)).reshape(roll.shape[:-2])[()]


def mean_top_voice_interval(roll: np.ndarray) -> np.ndarray | float:
    """Mean absolute interval (semitones) between successive top-voice notes, repeats as 0.

    MGEval's average pitch interval (Yang & Lerch 2018) on the top voice alone (see
    ``_top_voice_moves``), so chord spacing does not enter as it does in
    ``mean_pitch_interval``. NaN with fewer than two top-voice notes.
    """
    roll = _rolls(roll)
    piece, steps, n = _top_voice_moves(roll)
    return _ratio(np.bincount(piece, weights=steps, minlength=n), np.bincount(piece, minlength=n)).reshape(roll.shape[:-2])[()]


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


def beat_phase_consistency(roll: np.ndarray, parts: int = 4) -> np.ndarray | float:
    """1 when one beat phase leads in all four quarters of the window, else 0.

    The window's columns are split into ``parts`` equal parts (columns ``c`` with
    ``c * parts // T == q``); in each part, the notes starting at each phase ``c % 4`` are
    counted, and the window scores 1 when some phase has the most onsets (ties allowed)
    in every part. The beat a listener infers is where events fall most (Povel & Essens,
    "Perception of temporal patterns", Music Perception 1985); music keeps it (0.76 of
    POP909's test and validation windows score 1 when read without bar alignment), and a
    generator whose rhythm drifts across the beat grid scores 0. The set's mean is the
    share of windows holding one beat phase throughout. NaN when some part has no onset
    (a window with a rest that long, as at a song's end).
    """
    counts = _onset_counts(roll)
    width = counts.shape[-1]
    column = np.arange(width)
    cell = (column * parts // width)[:, None] * BEAT + column[:, None] % BEAT == np.arange(parts * BEAT)
    histogram = (counts @ cell).reshape((*counts.shape[:-1], parts, BEAT))
    leads = histogram == histogram.max(axis=-1, keepdims=True)
    held = leads.all(axis=-2).any(axis=-1)
    return np.where((histogram.sum(axis=-1) > 0).all(axis=-1), held, np.nan)[()]


def downbeat_clarity(roll: np.ndarray) -> np.ndarray | float:
    """Onsets per bar-start column (``c % 16 == 0``) over onsets per column of the window.

    1 = bar lines get no more onsets than the average column; 16 = every onset on a bar
    line (0 = none). Metric hierarchies (Palmer & Krumhansl, "Mental representations for
    musical meter", J. Exp. Psych.: HPP 1990) show events gather on the downbeat, so on
    bar-aligned windows real music scores above 1 and a generator without a sense of the
    bar near 1. Each note counts. NaN without onsets.
    """
    counts = _onset_counts(roll).astype(float)
    downbeats = np.arange(counts.shape[-1]) % BAR == 0
    return _ratio(counts[..., downbeats].mean(axis=-1), counts.mean(axis=-1))


def onset_periodicity(roll: np.ndarray, lag: int) -> np.ndarray | float:
    """Pearson correlation of the per-column onset counts with themselves ``lag`` columns later.

    The normalised autocorrelation of the onset series, as in Brown ("Determination of the
    meter of musical scores by autocorrelation", JASA 1993): at a lag of one bar (16) or
    two (32) it is high when rhythm repeats bar by bar, as accompaniment patterns do.
    NaN when either overlapping part is constant (silence, or fewer than ``lag + 2``
    columns).
    """
    counts = _onset_counts(roll).astype(float)
    if lag >= counts.shape[-1] - 1:
        return np.full(counts.shape[:-1], np.nan)[()]
    a, b = counts[..., :-lag], counts[..., lag:]
    a = a - a.mean(axis=-1, keepdims=True)
    b = b - b.mean(axis=-1, keepdims=True)
    return _ratio((a * b).sum(axis=-1), np.sqrt((a * a).sum(axis=-1) * (b * b).sum(axis=-1)))


def bass_on_beat(roll: np.ndarray) -> np.ndarray | float:
    """Share of bass onsets that fall on a beat (``c % 4 == 0``).

    A bass onset is the lowest note starting in its column when it lies below MIDI 60
    (C4), the left hand's register; a melody note starting over a held bass is not one.
    Pop bass lines mostly move on the beat (ours, no standard reference). NaN without
    bass onsets.
    """
    starts = onsets(roll)
    bass = starts.any(axis=-2) & (LOWEST_PITCH + np.argmax(starts, axis=-2) < BASS_BELOW)
    on_beat = np.arange(starts.shape[-1]) % BEAT == 0
    return _ratio(np.count_nonzero(bass & on_beat, axis=-1), np.count_nonzero(bass, axis=-1))


def _bar_similarity(vectors: np.ndarray, lag: int) -> np.ndarray | float:
    """Mean cosine similarity of bar ``b`` and bar ``b + lag`` over the pairs where neither is empty.

    ``vectors`` is (..., bars, D). NaN without such a pair.
    """
    a, b = vectors[..., :-lag, :], vectors[..., lag:, :]
    cosine = _ratio((a * b).sum(axis=-1), np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))
    defined = ~np.isnan(cosine)
    return _ratio(np.where(defined, cosine, 0.0).sum(axis=-1), np.count_nonzero(defined, axis=-1))


def pitch_class_repetition(roll: np.ndarray, lag: int) -> np.ndarray | float:
    """Mean cosine similarity of the pitch-class note time of bars ``lag`` apart.

    One diagonal of a bar-level self-similarity matrix (Foote, "Visualizing music and
    audio using self-similarity", ACM Multimedia 1999) on duration-weighted pitch
    classes: 1 when the harmony repeats every ``lag`` bars. Songs repeat their chord
    progressions in 1, 2 and 4 bar units. NaN without two non-empty bars ``lag`` apart.
    """
    return _bar_similarity(_bar_pitch_class_time(roll), lag)


def rhythm_repetition(roll: np.ndarray, lag: int) -> np.ndarray | float:
    """Mean cosine similarity of the onset patterns of bars ``lag`` apart.

    A bar's pattern is which of its 16 columns start a note. muspy's
    ``groove_consistency`` (Wu & Yang, ISMIR 2020) compares neighbouring bars by Hamming
    distance, so shared silence counts as agreement; cosine similarity counts only shared
    onsets, and lags 2 and 4 see patterns that alternate. NaN without two bars with
    onsets ``lag`` apart.
    """
    return _bar_similarity(_bar_onset_patterns(roll), lag)


def outside_piano_share(roll: np.ndarray) -> np.ndarray | float:
    """Share of notes in rows 88..105 (pitches 109..126), above the piano's top key.

    Real data has none there; a generator that paints these rows has not learnt the
    instrument. NaN without notes.
    """
    per_row = np.count_nonzero(onsets(roll), axis=-1)
    return _ratio(per_row[..., PIANO_ROWS:].sum(axis=-1), per_row.sum(axis=-1))


def drone(roll: np.ndarray) -> np.ndarray | float:
    """1 when some note lasts at least four bars (64 columns), else 0.

    Ours: a stuck pixel row is a typical generator failure, while POP909 rarely holds a
    note that long. The set's mean is the share of windows with a drone. 0 for a silent
    roll.
    """
    stack = _stack(roll)
    piece, row = np.nonzero(np.count_nonzero(stack, axis=-1) >= DRONE_LENGTH)  # the few rows that could
    lit = np.pad(stack[piece, row], ((0, 0), (1, 1)))
    edges = np.diff(lit.astype(np.int8), axis=-1)
    owner, starts = np.nonzero(edges == 1)
    ends = np.nonzero(edges == -1)[1]  # a row's k-th start and k-th end bound one note
    held = np.bincount(piece[owner[ends - starts >= DRONE_LENGTH]], minlength=len(stack)) > 0
    return held.astype(float).reshape(np.shape(roll)[:-2])[()]


def isolated_short_notes(roll: np.ndarray) -> np.ndarray | float:
    """Share of notes that are one column long with no other note near them.

    A note is isolated when it lasts one column (a sixteenth, or one column at the
    window's edge) and no other lit pixel lies within 6 semitones of it (closer than a
    fifth) in the columns from two before to two after it: every note sounding around it
    is at least 7 semitones away (``music.strays.stray_notes``). Ours: these stray pixels
    far from the texture are what tells a thresholded generator's windows from real ones.
    NaN without notes.
    """
    roll = _rolls(roll)
    return _ratio(_count(strays.stray_notes(roll)), _count(onsets(roll)))


def pitches_sounding_at_the_ends(roll: np.ndarray) -> np.ndarray:
    """(..., 3): the mean number of pitches sounding per column in the first bar, in the
    bars between, and in the last whole bar with the partial one after it.

    Ours. Every other metric is a mean over the window, and generators that matched them
    all piled a cluster of nine or more pitches into one end of it in up to 58% of their
    windows, where real windows sound no denser at their ends than between them. NaN
    for a roll of fewer than three bars, which has no bars between.
    """
    counts = _column_counts(roll).astype(float)
    last = last_bar_start(counts.shape[-1])
    if last <= BAR:
        return np.full((*counts.shape[:-1], 3), np.nan)
    return np.stack([counts[..., :BAR].mean(axis=-1), counts[..., BAR:last].mean(axis=-1), counts[..., last:].mean(axis=-1)], axis=-1)


SCALAR_METRICS: dict[str, Callable[[np.ndarray], np.ndarray | float]] = {
    "note_count": note_count,
    "lit_share": lit_share,
    "onsets_per_column": onsets_per_column,
    "mean_note_length": mean_note_length,
    "notes_at_least_an_eighth_share": notes_at_least_an_eighth_share,
    "polyphony": polyphony,
    "polyphony_rate": polyphony_rate,
    "polyphonicity": polyphonicity,
    "mean_pitch": mean_pitch,
    "pitch_range": pitch_range,
    "largest_pitch_gap": largest_pitch_gap,
    "n_pitches_used": n_pitches_used,
    "outside_piano_share": outside_piano_share,
    "n_pitch_classes_used": n_pitch_classes_used,
    "pitch_class_entropy": pitch_class_entropy,
    "scale_consistency": scale_consistency,
    "scale_consistency_by_duration": scale_consistency_by_duration,
    "out_of_key_share": out_of_key_share,
    "bass_on_chord_root": bass_on_chord_root,
    "empty_beat_rate": empty_beat_rate,
    "mean_inter_onset_interval": mean_inter_onset_interval,
    "beat_phase_consistency": beat_phase_consistency,
    "downbeat_clarity": downbeat_clarity,
    "onset_periodicity_1_bar": partial(onset_periodicity, lag=BAR),
    "onset_periodicity_2_bars": partial(onset_periodicity, lag=2 * BAR),
    "bass_on_beat": bass_on_beat,
    "mean_pitch_interval": mean_pitch_interval,
    "top_voice_stepwise_share": top_voice_stepwise_share,
    "mean_top_voice_interval": mean_top_voice_interval,
    "pitch_class_repetition_1_bar": partial(pitch_class_repetition, lag=1),
    "pitch_class_repetition_2_bars": partial(pitch_class_repetition, lag=2),
    "pitch_class_repetition_4_bars": partial(pitch_class_repetition, lag=4),
    "rhythm_repetition_1_bar": partial(rhythm_repetition, lag=1),
    "rhythm_repetition_2_bars": partial(rhythm_repetition, lag=2),
    "rhythm_repetition_4_bars": partial(rhythm_repetition, lag=4),
    "drone": drone,
    "isolated_short_notes": isolated_short_notes,
}
FEATURE_NAMES = tuple(SCALAR_METRICS)


def piece_features(roll: np.ndarray) -> dict[str, float]:
    """Every scalar metric of one roll ``(106, T)``, by name (NaN where undefined)."""
    roll = _rolls(roll)
    if roll.ndim != 2:
        raise ShapeError(f"piece_features takes one roll (106, T), got {roll.shape}; use features for a stack")
    return {name: float(metric(roll)) for name, metric in SCALAR_METRICS.items()}


def features(rolls: np.ndarray, batch: int = 256, progress: bool = False) -> np.ndarray:
    """Scalar metrics of a stack ``(N, 106, T)`` as a float array ``(N, len(FEATURE_NAMES))``.

    Column ``j`` is ``FEATURE_NAMES[j]``. Works on batches of ``batch`` rolls, so memory
    stays bounded and 2,000 windows of 106 x 300 take a few seconds on two cores.
    """
    from tqdm import tqdm

    rolls = _rolls(rolls)
    out = np.empty((len(rolls), len(SCALAR_METRICS)))
    for start in tqdm(range(0, len(rolls), batch), desc="metrics", unit="batch", disable=not progress, leave=False):
        chunk = rolls[start : start + batch]
        for j, metric in enumerate(SCALAR_METRICS.values()):
            out[start : start + len(chunk), j] = metric(chunk)
    return out

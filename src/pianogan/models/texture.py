"""Texture statistics of a roll, differentiable, and a loss that matches them to the data's.

Every generator so far wrote fewer, longer notes than real POP909 windows (about 216 notes
a window, 5 columns long, against 296 and 3.4; eighths 10% of notes against 26%), on
fewer pitches (19 against 28). D tells the two apart, yet G never closes the gap: in the
space where precision and recall are measured the generated windows spread as widely as
the real ones but sit beside them (docs/results.md). This module measures the figures
that give it away, per window, as products of neighbouring pixels, so they are
differentiable; a loss then pulls the batch's mean and spread of each figure to the
training data's, as moment matching does (Li et al. 2015, "Generative moment matching
networks"), beside D's verdict. Matched on the texture alone (notes, lengths, onsets,
pitches, register, silence), G kept one chord through the window (consecutive bars' pitch
classes alike at 0.95, real 0.54), so the harmony's motion and the notes in a key are
figures too. Matched on those, the top voice still leapt where real melodies step (22% of
its moves by step, real 44%), the rhythm repeated less from bar to bar (0.49, real 0.64),
and late in a run drones came back (11% of windows, real 0.4%) with stray one-column
notes: the skyline's height and motion, the bar-to-bar onset correlation, drones and
stray notes are figures as well, each read as ``evaluation.metrics`` reads it, and so is
the number of pitch classes used, which rose to 10.9 a window (real 8.3) once the melody
moved, and the likeness of bars two apart, which reached 0.85 (real 0.57) as the harmony
swung between two chords. With all of those matched, three giveaways stayed in every run:
a busy bass (2.5 times the real notes below C3, which pulls the notes' mean pitch 4-5
semitones low), notes starting together on fewer columns (114 of 300 columns start a note,
real 152, so the gaps between onsets are long) and too many onsets on the bar lines with
a rhythm that repeats less from bar to bar. So the notes' shares by register band, the
share of columns that start a note, the share of onsets on bar lines and the likeness of
the onset patterns of neighbouring bars are figures too. As the melody moved, the bass
left the chords' roots (on them in 31-45% of bars, real 74%), so that share is a figure;
and as the onsets spread, more columns sounded one pitch alone (84% of sounding columns
held two or more, real 93%) and the rhythm of bars two apart matched less, so those are
figures as well. Whether a row, a pitch class or a column sounds at all is read from its
loudest pixel (``_any``), and notes out of the key as the evaluation reads the key
(``_out_of_key_share``): read otherwise, the register and the bars' rhythm looked matched
where they were not, and so did the key. Matching each figure's moments alone left the
figures' combinations apart from the data's, so ``texture_kernel_loss`` compares them
together. With that, the two figures of the validation split furthest from the data
were the top voice's steps and mean interval (1.0 and 1.1 standard deviations), so the
top voice is read from note to note as the evaluation reads it (``_top_voice_figures``),
and its mean interval is a figure too. The next two (0.8 standard deviations each) were
the largest gap between the pitches used, which a stray note far from the texture opens,
and the entropy of the notes' pitch classes: figures as well. With those, the
classifier's surest group of features on the shipped generator's test windows was
tonality and harmony (0.88), whose twelve pitch-class shares no figure read, so the share
of the notes on each pitch class is a figure too (on key-normalised windows, the shares
in C major and A minor). With those, every run wrote a cluster of nine or more pitches at
once in the first bar or the last (a partial bar that no bar figure reads), so the
pitches sounding at once in the first bar and in the last are figures as well.

The loss reads the roll nearly as it is heard: each probability through a steep sigmoid
around the 0.5 threshold (``heard``). Two plainer readings failed within 500 steps of the
shipped recipe. On the probabilities themselves (each figure's expectation over drawn
pixels), G met the figures with a haze of faint pixels, each a fraction of a note, while
the thresholded roll thinned to 54 notes a window on 8 pitches. On the thresholded roll
with a straight-through gradient, every silent pixel kept being pushed up by figures it
could not yet change, until half of all pixels sounded at once.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np
from keras import ops

from pianogan.constants import DRONE_LENGTH, ISOLATION_COLUMNS, ISOLATION_SEMITONES
from pianogan.models.architectures import remerge
from pianogan.music import keys
from pianogan.roll import COLUMNS_PER_BAR, COLUMNS_PER_QUARTER, LOWEST_PITCH, PITCH_CLASS_NAMES, last_bar_start

# A note's length in columns falls in [1], [2], [3], [4], [5, 8), [8, 17) or [17, ...):
# sixteenths, eighths, dotted eighths, quarters, up to a half, up to a bar, held longer.
LENGTH_EDGES = (1, 2, 3, 4, 5, 8, 17)
# A note's pitch falls in [21, 48), [48, 60), [60, 72), [72, 84) or [84, ...): the bass, and
# the octaves from C3, C4 (middle C), C5 and C6 up.
REGISTER_EDGES = (LOWEST_PITCH, 48, 60, 72, 84)
FEATURES = (
    "log_notes",
    *(f"share_length_{low}" for low in LENGTH_EDGES),
    *(f"share_onsets_phase_{phase}" for phase in range(COLUMNS_PER_QUARTER)),
    "share_onsets_downbeat",
    *(f"share_onsets_from_pitch_{low}" for low in REGISTER_EDGES),
    "onset_columns_share",
    "rhythm_repetition_bar",
    "rhythm_repetition_two_bars",
    "pitches_sounding",
    "pitches_sounding_first_bar",
    "pitches_sounding_last_bar",
    "polyphonicity",
    "pitches_used",
    "pitch_classes_used",
    "highest_row",
    "lowest_row",
    "silent_beats",
    "bar_chroma_similarity",
    "two_bar_chroma_similarity",
    "out_of_key_share",
    *(f"share_notes_pitch_class_{name}" for name in PITCH_CLASS_NAMES),
    "pitch_class_entropy",
    "largest_pitch_gap",
    "bass_on_chord_root",
    "onset_periodicity_bar",
    "top_voice_row",
    "top_voice_step_share",
    "top_voice_skip_share",
    "top_voice_mean_interval",
    "drone_notes",
    "isolated_share",
)
_TINY = 1e-6
# The top voice moves by step (1 or 2 semitones), by skip (3 to 7) or by leap (8 or more).
_STEPS, _SKIPS = (1, 2), (3, 4, 5, 6, 7)
# A top-voice note followed by the next more than a bar later is not read as a move: 0.6% of
# real moves are further apart (300 validation windows), and the pairs of columns compared,
# so the cost, grow with the reach.
TOP_VOICE_REACH = COLUMNS_PER_BAR
# Each figure's spread is counted as at least 1% of its size (plus 0.01), so a figure the
# data barely varies, as in a dataset of one piece, does not blow the loss up.
_SPREAD_FLOOR = 0.01
# A bar's chord is read as a softmax over the 24 triads of the share of the bar's note time
# each holds, this sharp: a triad holding 10% more of it than the next weighs e^2 times more.
CHORD_SHARPNESS = 0.05
# A window's key is read as a softmax over the 24 keys of the correlation of its pitch
# classes with each key's profile, this sharp: a key correlating 0.05 better weighs e^2.5
# (12) times more.
KEY_SHARPNESS = 0.02
# Width of the threshold the loss reads through: a pixel at 0.3 counts 2% of a note and one
# at 0.1 nothing to speak of, and neither gets much gradient, while one near 0.5 gets most.
HEARING_WIDTH = 0.05
# Scales s of the Gaussian kernels exp(-d / 2s) that compare generated windows' figures with
# real ones, d the mean squared difference per standardised figure (about 2 between two
# real windows): from near neighbours to the whole data. Each is read through this many
# random Fourier frequencies.
KERNEL_SCALES = (0.25, 1.0, 4.0, 16.0)
KERNEL_FREQUENCIES = 512
# Scales s of the one-dimensional Gaussian kernels exp(-d^2 / 2s) that compare each figure's
# distribution alone with the data's, d a difference in the figure's standard deviations:
# the finest (0.32 of a standard deviation wide) tells two modes apart from one between
# them, the widest reaches a figure far from the data. Each is read through this many
# random Fourier frequencies.
MARGINAL_SCALES = (0.1, 0.5, 2.0)
MARGINAL_FREQUENCIES = 64


def _shifted(p, columns: int):
    """``p`` moved ``columns`` earlier in time (positive) or later (negative), silence coming in."""
    if columns > 0:
        return ops.pad(p[:, :, columns:], ((0, 0), (0, 0), (0, columns)))
    return ops.pad(p[:, :, :columns], ((0, 0), (0, 0), (-columns, 0)))


def _log_silence(p):
    """log(1 - p), finite where p is 1."""
    return ops.log(ops.maximum(1.0 - p, _TINY))


def note_length_counts(p, onsets=None):
    """(B, len(LENGTH_EDGES)) expected numbers of notes of rolls ``p`` (B, 106, T) in each
    length class. A note starts at (r, t) with probability p[r, t] (1 - p[r, t-1]) and lasts
    at least k columns with that times p[r, t+1] ... p[r, t+k-1]; one that runs past the
    window's end ends there. The products over the next k - 1 columns are built by halves
    (16 columns from two runs of 8), not one column at a time."""
    onsets = p * (1.0 - _shifted(p, -1)) if onsets is None else onsets
    runs = {1: _shifted(p, 1)}  # n: p[t + 1] ... p[t + n]

    def held(n: int):
        if n not in runs:
            runs[n] = held(n // 2) * _shifted(held(n - n // 2), n // 2)
        return runs[n]

    at_least = [ops.sum(onsets if k == 1 else onsets * held(k - 1), axis=(1, 2)) for k in LENGTH_EDGES]
    return ops.stack([at_least[i] - at_least[i + 1] for i in range(len(LENGTH_EDGES) - 1)] + [at_least[-1]], axis=1)


def _pitch_class_of_row(rows: int):
    """(rows, 12): one-hot, row r's pitch class."""
    return ops.convert_to_tensor(np.eye(12, dtype="float32")[(LOWEST_PITCH + np.arange(rows)) % 12])


def _chroma(p):
    """(B, T, 12): how much of each pitch class sounds in each column."""
    return ops.matmul(ops.transpose(p, (0, 2, 1)), _pitch_class_of_row(p.shape[1]))


def _bars(series):
    """(B, bars, 16, ...): ``series`` (B, T, ...) cut into whole bars, a last partial one left out."""
    bars = series.shape[1] // COLUMNS_PER_BAR
    return ops.reshape(series[:, : bars * COLUMNS_PER_BAR], (-1, bars, COLUMNS_PER_BAR, *series.shape[2:]))


def _bar_similarity(by_bar, lag: int):
    """(B,): the mean cosine between the vectors (B, bars, D) of bars ``lag`` apart.

    Of pitch classes (D = 12, a bar's chroma): near 1 when the bars sound the same chord,
    lower as the harmony moves; at a lag of two bars it is high for a two-chord swing,
    which one bar's lag does not tell from moving harmony. Of onsets (D = 16, which of the
    bar's columns start a note): the bar's rhythm repeats, as
    ``evaluation.metrics.rhythm_repetition`` reads it. 0 for a roll without two bars that
    far apart."""
    if by_bar.shape[1] <= lag:
        return ops.zeros_like(by_bar[:, 0, 0])
    unit = by_bar / ops.sqrt(ops.sum(ops.square(by_bar), axis=2, keepdims=True) + _TINY)
    return ops.mean(ops.sum(unit[:, lag:] * unit[:, :-lag], axis=2), axis=1)


def _out_of_key_share(chroma, notes_by_class):
    """(B,): the share of notes, each counted once, outside the scale of the window's key,
    as ``evaluation.metrics.out_of_key_share`` reads it: the key is a softmax
    (``KEY_SHARPNESS``) over the 24 keys of the correlation of the window's pitch-class
    time (``chroma``, (B, T, 12)) with each key's profile, as ``keys.estimate_keys``
    correlates them; ``notes_by_class`` (B, 12) holds the notes of each pitch class.

    Read as the share of sounding time on the best of the 12 major scales, the figure let
    the generated windows sit on a scale as often as real ones (98%) while 10% of their
    notes lay outside the key they were heard in: short chromatic notes hold little time,
    and a window whose weight leans to a key whose scale its notes do not keep (B minor
    over G major's notes) is in no key at all."""
    time = ops.sum(chroma, axis=1)  # (B, 12)
    centred = time - ops.mean(time, axis=1, keepdims=True)
    unit = centred / ops.sqrt(ops.sum(ops.square(centred), axis=1, keepdims=True) + _TINY)
    correlations = ops.matmul(unit, ops.convert_to_tensor(keys.key_templates().T.astype("float32")))  # (B, 24)
    outside = np.array([~keys.scale_mask(key) for key in range(24)], "float32").T  # (12, 24): a key's scale left out, per column
    notes_outside = ops.matmul(notes_by_class, ops.convert_to_tensor(outside))  # (B, 24)
    share = ops.sum(ops.softmax(correlations / KEY_SHARPNESS, axis=-1) * notes_outside, axis=1)
    return share / (ops.sum(notes_by_class, axis=1) + _TINY)


def _pitch_class_entropy(shares):
    """(B,): the entropy in bits of the notes' pitch classes, as
    ``evaluation.metrics.pitch_class_entropy`` reads it; ``shares`` (B, 12) holds the share
    of the notes in each pitch class. 0 without notes."""
    return -ops.sum(shares * ops.log(ops.maximum(shares, _TINY)), axis=1) / np.log(2.0)


def _windows_up(x):
    """(B, R, R - 1): x[r + g] at [r, g - 1] for g = 1 .. R - 1 of ``x`` (B, R), 0 beyond the
    last row. A copy of ``x`` laid out with one extra element per row, so that each row
    starts one further along: a tile and a reshape, not an index table and a gather."""
    rows = x.shape[1]
    padded = ops.concatenate([x, ops.zeros_like(x)], axis=1)  # (B, 2R)
    tiled = ops.tile(padded, (1, rows + 1))[:, : rows * (2 * rows + 1)]
    return ops.reshape(tiled, (-1, rows, 2 * rows + 1))[:, :, 1:rows]


def _largest_pitch_gap(used):
    """(B,): the expected largest gap in semitones between neighbours among the rows used
    (``used`` (B, 106), each row's chance of sounding), as
    ``evaluation.metrics.largest_pitch_gap`` reads it on 0/1 rolls; 0 with fewer than two.

    The largest gap is at least g when some used row r has rows r + 1 .. r + g - 1 unused
    and a used row at r + g or above: the sum over g of that chance is the expected
    largest gap. The chances of silence are multiplied as sums of logs within each span,
    never as differences of sums over the whole roll."""
    silent = _log_silence(used)
    quiet_between = ops.exp(ops.cumsum(_windows_up(silent), axis=2) - _windows_up(silent))  # rows r + 1 .. r + g - 1 unused
    silent_from = silent + _silence_above(silent[:, :, None])[:, :, 0]  # rows r .. the top unused
    used_from = 1.0 - ops.exp(_windows_up(silent_from))  # some row at r + g or above used
    opens = used[:, :, None] * quiet_between * used_from  # (B, 106, 105): a gap of at least g opens above row r
    return ops.sum(1.0 - ops.exp(ops.sum(_log_silence(opens), axis=1)), axis=1)


def _polyphonicity(p, silence):
    """(B,): the share of sounding columns where two or more pitches sound, as
    ``evaluation.metrics.polyphonicity`` reads it; ``silence`` is ``_log_silence(p)``.

    A column sounds one pitch alone with probability sum_r p_r * prod_(s != r) (1 - p_s);
    the product of the other rows is exp(all rows' log-silence - row r's), which neither
    divides by 1 - p_r nor passes a gradient through it."""
    column_silence = ops.sum(silence, axis=1, keepdims=True)  # (B, 1, T)
    nothing = ops.exp(column_silence[:, 0])
    one = ops.sum(p * ops.exp(column_silence - silence), axis=1)
    return ops.sum(1.0 - nothing - one, axis=1) / (ops.sum(1.0 - nothing, axis=1) + _TINY)


def _bass_on_chord_root(chords, silence):
    """(B,): the share of bars whose bass (lowest pitch sounding in the bar's first beat) is
    the root of the bar's chord (the triad holding most of its note time), as
    ``evaluation.metrics.bass_on_chord_root`` reads it, with the chord a softmax over the
    triads (``CHORD_SHARPNESS``). ``chords`` (B, bars, 12) holds each bar's pitch-class
    time, ``silence`` is ``_log_silence(p)``; 0 when no bar's first beat sounds."""
    members = ops.convert_to_tensor(keys.TRIADS.T.astype("float32"))  # (12, 24)
    roots = ops.convert_to_tensor(np.eye(12, dtype="float32")[keys.TRIAD_ROOTS])  # (24, 12)
    time_share = chords / (ops.sum(chords, axis=2, keepdims=True) + _TINY)
    root = ops.matmul(ops.softmax(ops.matmul(time_share, members) / CHORD_SHARPNESS, axis=-1), roots)  # (B, bars, 12)
    first_beat = ops.sum(_bars(ops.transpose(silence, (0, 2, 1)))[:, : chords.shape[1], :COLUMNS_PER_QUARTER], axis=2)  # (B, bars, 106)
    below = ops.cumsum(first_beat, axis=2) - first_beat  # log of the chance nothing sounds below the row
    lowest = (1.0 - ops.exp(first_beat)) * ops.exp(below)  # (B, bars, 106): the chance the row is the bass
    bass = ops.matmul(lowest, _pitch_class_of_row(silence.shape[1]))
    return ops.sum(bass * root, axis=(1, 2)) / (ops.sum(lowest, axis=(1, 2)) + _TINY)


def _onset_periodicity(onsets_per_column):
    """(B,): the correlation of the onsets in each column with those a bar later, as
    ``evaluation.metrics.onset_periodicity`` at a lag of one bar: high when the rhythm
    repeats bar by bar."""
    a, b = onsets_per_column[:, :-COLUMNS_PER_BAR], onsets_per_column[:, COLUMNS_PER_BAR:]
    a = a - ops.mean(a, axis=1, keepdims=True)
    b = b - ops.mean(b, axis=1, keepdims=True)
    return ops.sum(a * b, axis=1) / ops.sqrt(ops.sum(a * a, axis=1) * ops.sum(b * b, axis=1) + _TINY)


def _silence_above(silence):
    """(B, 106, T): the log chance that no row above each pixel sounds; ``silence`` is
    ``_log_silence(p)``. A product with a triangular matrix: three times faster on the CPU
    than a cumulative sum over the flipped rows."""
    rows = silence.shape[1]
    return ops.matmul(ops.convert_to_tensor(np.triu(np.ones((rows, rows), "float32"), 1)), silence)


def _moves_within(distances, rows: int) -> np.ndarray:
    """(rows, rows): 1 where two rows (or columns) lie one of ``distances`` apart."""
    apart = np.abs(np.subtract.outer(np.arange(rows), np.arange(rows)))
    return np.isin(apart, distances).astype("float32")


def _top_voice_figures(p, onsets, silence):
    """(B, 4): the top voice's mean row where it sounds; and, of its moves from each note to
    the next, the shares that are steps and skips among those that change pitch, and the
    mean interval in semitones, repeated notes counted as 0.

    The top voice's notes are those that start as the highest pitch sounding, and a move
    runs from one to the next, across held notes and rests, as
    ``evaluation.metrics.top_voice_stepwise_share`` and ``mean_top_voice_interval`` read
    it. Read from column to column instead, a melody note ending over a chord tone begun
    beneath it counted as a move down to that tone: so read, the shipped generator's top
    voice stepped more often than real ones (0.35 of its moves against 0.30, 300 windows
    each) where the evaluation heard it step less (0.32 against 0.44), and the loss
    pushed it the wrong way.

    A top-voice note starting in column t is followed by the next one k columns later with
    the chance of both times that of no start between: a cumulative sum of logs. Pairs of
    columns up to ``TOP_VOICE_REACH`` apart are taken bar by bar, each bar's columns against
    its own and the next bar's, so that one matrix product per bar pairs their rows: the
    first note's chances against the second's, and against the second's summed over the
    rows a step or a skip away. The distance in semitones is written with sums up to each
    row, so that no sum over pairs of rows is taken: the sum of |r - r'| x(r) y(r') is the
    sum over c of X(c) (Y - Y(c)) + Y(c) (X - X(c)), X(c) and Y(c) the sums up to row c, X
    and Y the totals."""
    nothing_above = ops.exp(_silence_above(silence))
    # The skyline that ``evaluation.metrics.top_voice`` reads as the melody: the chance that
    # each row is the highest one sounding in its column.
    top = p * nothing_above
    # Each onset counts squared, as in ``_isolated_notes``: a heard silence (about 5e-5) above
    # the melody in every column would otherwise add half a note a window, and two leaps.
    starts = ops.transpose(ops.square(onsets) * nothing_above, (0, 2, 1))  # (B, T, 106)
    pitches, steps = p.shape[1], p.shape[2]
    bars = -(-steps // TOP_VOICE_REACH)
    starts = ops.pad(starts, ((0, 0), (0, (bars + 1) * TOP_VOICE_REACH - steps), (0, 0)))  # silence after the end
    per_column = ops.sum(starts, axis=2)  # (B, T'): at most 1, the rows being exclusive
    none_before = ops.pad(ops.cumsum(ops.log(ops.maximum(1.0 - per_column, _TINY)), axis=1), ((0, 0), (1, 0)))

    def by_bar(series, with_next: bool):  # (B, bars, columns, ...): each bar's columns, and then the next bar's
        def cut(start):
            return ops.reshape(series[:, start : start + bars * TOP_VOICE_REACH], (-1, bars, TOP_VOICE_REACH, *series.shape[2:]))

        return ops.concatenate([cut(0), cut(TOP_VOICE_REACH)], axis=2) if with_next else cut(0)

    def against_later(x, y):  # (B, bars, n, 2 x reach): bars of x (B, bars, n, 106) against y at each later column, over the rows
        return ops.matmul(x, ops.swapaxes(by_bar(y, True), 2, 3))

    def outer(x, y):
        return by_bar(x, False)[..., :, None] * by_bar(y, True)[..., None, :]

    first = by_bar(starts, False)  # (B, bars, reach, 106)
    bands = np.concatenate([_moves_within(_STEPS, pitches), _moves_within(_SKIPS, pitches)], axis=1)
    near = ops.matmul(first, ops.convert_to_tensor(bands))  # (B, bars, reach, 2 x 106): the rows a step, or a skip, away
    same_step_skip = against_later(ops.concatenate([first, near[..., :pitches], near[..., pitches:]], axis=2), starts)
    up_to = ops.matmul(starts, ops.convert_to_tensor(np.triu(np.ones((pitches, pitches), "float32"))))  # X(c): rows up to c
    below = ops.sum(up_to, axis=2)  # the sum over c of X(c)
    offsets = np.subtract.outer(np.arange(2 * TOP_VOICE_REACH), np.arange(TOP_VOICE_REACH)).T
    apart = ops.convert_to_tensor(((offsets >= 1) & (offsets <= TOP_VOICE_REACH)).astype("float32"))
    gap = by_bar(none_before[:, :-1], True)[..., None, :] - by_bar(none_before[:, 1:], False)[..., :, None]
    successive = apart * ops.exp(ops.minimum(gap, 0.0))  # no start in t + 1 .. t' - 1
    distance = outer(below, per_column) + outer(per_column, below) - 2.0 * against_later(by_bar(up_to, False), up_to)
    reach = TOP_VOICE_REACH
    pairs = [outer(per_column, per_column), *(same_step_skip[:, :, i * reach : (i + 1) * reach] for i in range(3)), distance]
    moves = ops.stack([ops.sum(successive * x, axis=(1, 2, 3)) for x in pairs], axis=1)  # (B, 5)
    rows = ops.cast(ops.arange(pitches), p.dtype)[None, :, None]
    height = ops.sum(rows * top, axis=(1, 2)) / (ops.sum(top, axis=(1, 2)) + 1.0)
    changing = moves[:, 0] - moves[:, 1] + 1.0
    return ops.stack([height, moves[:, 2] / changing, moves[:, 3] / changing, moves[:, 4] / (moves[:, 0] + 1.0)], axis=1)


def _drone_notes(p, onsets):
    """(B,): the expected number of notes held at least ``DRONE_LENGTH`` columns (four bars),
    the stuck rows that ``evaluation.metrics.drone`` counts; a sum of logs over each run of
    columns, so the length costs one cumulative sum, not a product per column."""
    sounding = ops.pad(ops.cumsum(ops.log(ops.maximum(p, _TINY)), axis=2), ((0, 0), (0, 0), (1, 0)))  # columns before t
    held = ops.exp(sounding[:, :, DRONE_LENGTH:] - sounding[:, :, 1 : 1 - DRONE_LENGTH])  # t + 1 .. t + DRONE_LENGTH - 1 sound
    return ops.sum(onsets[:, :, : held.shape[2]] * held, axis=(1, 2))


def _isolated_notes(p, silence):
    """(B,): the expected number of notes that ``evaluation.metrics.isolated_short_notes``
    calls isolated: a lit pixel with nothing else lit within ``ISOLATION_SEMITONES - 1`` rows
    and ``ISOLATION_COLUMNS`` columns of it, so a one-column note far from the texture;
    ``silence`` is ``_log_silence(p)``.

    The pixel counts squared: nearly every silent pixel of a window has an empty
    neighbourhood, so a heard silence (about 5e-5) counted once would add a phantom note
    or more to every window, a gap G could never close."""
    box = _box_sum(silence, ISOLATION_SEMITONES - 1, ISOLATION_COLUMNS)
    return ops.sum(ops.square(p) * ops.exp(box - silence), axis=(1, 2))


def _box_sum(x, rows: int, columns: int):
    """(B, H, W): the sum of ``x`` (B, H, W) over the box reaching ``rows`` rows and ``columns``
    columns to each side of every pixel, nothing beyond the edges: one product with a band
    matrix along each axis, four times faster on the CPU than cumulative sums and their
    differences, and far faster than one slice per row and column of the box."""
    height, width = x.shape[1], x.shape[2]
    across = ops.matmul(x, ops.convert_to_tensor(_moves_within(range(columns + 1), width)))
    return ops.matmul(ops.convert_to_tensor(_moves_within(range(rows + 1), height)), across)


def _any(p, axis: int):
    """Whether anything along ``axis`` of ``p`` sounds, read as its loudest pixel.

    The chance that one of hundreds of pixels sounds, 1 - prod(1 - p), is what independent
    draws would give; but a roll is heard thresholded, and a row of faint pixels, each
    heard as a tenth of a note, then reads as sounding for certain. Read that way, the
    shipped generator's highest pitch sat 13 rows above where its thresholded notes put
    it (2.0 standard deviations), its lowest 3 rows below, and its faint onsets filled
    columns alike in every bar, so that its bars' rhythms read as alike as real ones'
    (0.84, real 0.83) where its notes repeated less (0.72): the loss pulled the register
    narrower and left the rhythm alone. Read by its loudest pixel, a faint row counts as
    much as that pixel is heard: 2% of a row at 0.3, 12% at 0.4. A column's loudest onset
    is heard once more (``heard``), or faint onsets in every column would still make all
    bars alike. For real rolls, 0 or 1, the readings agree."""
    return ops.max(p, axis=axis)


def texture_features(p):
    """(B, len(FEATURES)) figures of rolls ``p`` (B, 106, T): probabilities, or 0/1 for real ones.

    Counts are expectations under independent draws of the pixels (``note_length_counts``);
    the shares divide them by the expected number of notes plus one. Whether a row, a pitch
    class or a column holds anything at all is its loudest pixel (``_any``).
    """
    onsets = p * (1.0 - _shifted(p, -1))
    notes = ops.sum(onsets, axis=(1, 2))
    counts = note_length_counts(p, onsets)
    steps = p.shape[2]
    onsets_per_column = ops.sum(onsets, axis=1)  # (B, T)
    sounding_per_column = ops.sum(p, axis=1)  # (B, T): pitches sounding at once
    by_phase = ops.sum(ops.reshape(onsets_per_column, (-1, steps // COLUMNS_PER_QUARTER, COLUMNS_PER_QUARTER)), axis=1)
    silence = _log_silence(p)  # read by several figures: computed once
    # Whether a row or a pitch class sounds at all, or a column starts a note, is read from
    # its loudest pixel (``_any``).
    used = _any(p, axis=2)  # (B, 106)
    classes_used = _any(used[:, :, None] * _pitch_class_of_row(p.shape[1])[None], axis=1)  # (B, 12)
    rows = ops.cast(ops.arange(p.shape[1]), p.dtype)[None, :]
    # The highest pitch used is r when r is used and nothing above it is (and so for the lowest).
    silent = 1.0 - used
    ones = ops.ones_like(silent[:, :1])
    nothing_below = ops.concatenate([ones, ops.cumprod(silent, axis=1)[:, :-1]], axis=1)
    nothing_above = ops.flip(ops.concatenate([ones, ops.cumprod(ops.flip(silent, axis=1), axis=1)[:, :-1]], axis=1), axis=1)
    beats = ops.reshape(ops.sum(silence, axis=1), (-1, steps // COLUMNS_PER_QUARTER, COLUMNS_PER_QUARTER))
    share = 1.0 / (notes + 1.0)
    chroma = _chroma(p)
    chords = ops.sum(_bars(chroma), axis=2)  # (B, bars, 12): each bar's pitch classes
    onsets_per_row = ops.sum(onsets, axis=2)  # (B, 106)
    class_of_row = _pitch_class_of_row(p.shape[1])
    notes_by_class = ops.matmul(onsets_per_row, class_of_row)  # (B, 12)
    # Each onset counts squared, as in ``_isolated_notes``: heard silence would otherwise
    # spread a note or two a window over all twelve classes.
    heard_by_class = ops.matmul(ops.sum(ops.square(onsets), axis=2), class_of_row)
    class_shares = heard_by_class / (ops.sum(heard_by_class, axis=1, keepdims=True) + _TINY)
    edges = [low - LOWEST_PITCH for low in REGISTER_EDGES] + [p.shape[1]]
    by_register = [ops.sum(onsets_per_row[:, low:high], axis=1) for low, high in itertools.pairwise(edges)]
    onset_columns = heard(_any(onsets, axis=1))  # (B, T), heard again: see ``_any``
    plain = ops.stack(
        [
            ops.log(notes + 1.0),
            *(counts[:, i] * share for i in range(len(LENGTH_EDGES))),
            *(by_phase[:, phase] * share for phase in range(COLUMNS_PER_QUARTER)),
            ops.sum(onsets_per_column[:, ::COLUMNS_PER_BAR], axis=1) * share,
            *(count * share for count in by_register),
            ops.mean(onset_columns, axis=1),
            _bar_similarity(_bars(onset_columns), 1),
            _bar_similarity(_bars(onset_columns), 2),
            ops.mean(sounding_per_column, axis=1),
            ops.mean(sounding_per_column[:, :COLUMNS_PER_BAR], axis=1),
            ops.mean(sounding_per_column[:, last_bar_start(steps) :], axis=1),
            _polyphonicity(p, silence),
            ops.sum(used, axis=1),
            ops.sum(classes_used, axis=1),
            ops.sum(rows * used * nothing_above, axis=1),
            ops.sum(rows * used * nothing_below, axis=1),
            ops.mean(ops.exp(ops.sum(beats, axis=2)), axis=1),
            _bar_similarity(chords, 1),
            _bar_similarity(chords, 2),
            _out_of_key_share(chroma, notes_by_class),
            *(class_shares[:, pitch_class] for pitch_class in range(12)),
            _pitch_class_entropy(class_shares),
            _largest_pitch_gap(used),
            _bass_on_chord_root(chords, silence),
            _onset_periodicity(onsets_per_column),
        ],
        axis=1,
    )
    faults = ops.stack([_drone_notes(p, onsets), _isolated_notes(p, silence) * share], axis=1)
    return ops.concatenate([plain, _top_voice_figures(p, onsets, silence), faults], axis=1)


def texture_figures(real_windows: np.ndarray, chunk: int = 256) -> np.ndarray:
    """(N, len(FEATURES)): the figures of each of real windows (N, 106, T) in {0, 1}."""
    return np.concatenate(
        [
            ops.convert_to_numpy(texture_features(ops.convert_to_tensor(real_windows[i : i + chunk].astype(np.float32))))
            for i in range(0, len(real_windows), chunk)
        ]
    ).astype(np.float32)


def texture_target(real_figures: np.ndarray) -> np.ndarray:
    """(2, len(FEATURES)): the mean and standard deviation of each figure over real windows'
    figures (N, len(FEATURES)), as the training batches show them."""
    return np.stack([real_figures.mean(axis=0), real_figures.std(axis=0)]).astype(np.float32)


def heard(probabilities):
    """How much of each pixel sounds once thresholded at 0.5, smoothed over ``HEARING_WIDTH``."""
    return ops.sigmoid((probabilities - 0.5) / HEARING_WIDTH)


def _mean_over_batch(x):
    return ops.mean(x, axis=0)


def heard_figures(probabilities):
    """(B, len(FEATURES)): the figures of G's output (B, 106, T, C) as ``heard``; a voiced
    roll is read by its merge, its voices' OR."""
    return texture_features(heard(remerge(probabilities)[..., 0]))


def _floor(target):
    """What each figure's variance is counted as at least (``_SPREAD_FLOOR``)."""
    return ops.square(_SPREAD_FLOOR * (ops.abs(target[0]) + 1.0))


def _spread(target):
    """Each figure's standard deviation in the data, floored."""
    return ops.sqrt(ops.square(target[1]) + _floor(target))


def texture_loss(figures, target, batch_mean: Callable = _mean_over_batch):
    """How far G's batch of figures (``heard_figures``) lies from the data's ``target``: per
    figure, the gaps between the batch's and the data's means and standard deviations, in
    the data's standard deviations, squared and averaged. Matching the spread as well as the
    mean keeps G from writing one average window. ``batch_mean`` takes means over the
    first axis; a step whose batch is split over devices passes one over the whole batch."""
    mean, spread = target[0], _spread(target)
    fake_mean = batch_mean(figures)
    fake_spread = ops.sqrt(batch_mean(ops.square(figures - fake_mean)) + _floor(target))
    return ops.mean(ops.square((fake_mean - mean) / spread) + ops.square((fake_spread - spread) / spread))


def standardised(figures, target):
    """Figures (B, F) in the data's standard deviations from its means (``target``)."""
    return (figures - target[0]) / _spread(target)


def _kernel_frequencies(figures: int) -> np.ndarray:
    """(figures, KERNEL_FREQUENCIES * len(KERNEL_SCALES)): the random Fourier frequencies of
    the Gaussian kernels (Rahimi & Recht 2007), the same in every run (seed 0): a frequency
    for scale s is normal with variance 1 / (s * figures)."""
    draws = np.random.default_rng(0).standard_normal((figures, KERNEL_FREQUENCIES, len(KERNEL_SCALES)))
    return (draws / np.sqrt(np.array(KERNEL_SCALES) * figures)).reshape(figures, -1).astype(np.float32)


def kernel_features(figures, target):
    """(B, 2 * KERNEL_FREQUENCIES * len(KERNEL_SCALES)): random Fourier features of
    standardised figures (B, F), whose dot products approximate the sum of the Gaussian
    kernels exp(-d / 2s), d the mean squared difference per standardised figure."""
    angles = ops.matmul(standardised(figures, target), ops.convert_to_tensor(_kernel_frequencies(figures.shape[1])))
    return ops.concatenate([ops.cos(angles), ops.sin(angles)], axis=1) / np.sqrt(KERNEL_FREQUENCIES)


def real_kernel_mean(real_figures: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The mean of real windows' ``kernel_features``: the data's side of
    ``texture_kernel_loss``, computed once."""
    return ops.convert_to_numpy(ops.mean(kernel_features(ops.convert_to_tensor(real_figures), ops.convert_to_tensor(target)), axis=0))


def _marginal_frequencies() -> np.ndarray:
    """(MARGINAL_FREQUENCIES * len(MARGINAL_SCALES),): the random Fourier frequencies of the
    one-dimensional kernels, the same in every run (seed 1): normal with variance 1 / s."""
    draws = np.random.default_rng(1).standard_normal((MARGINAL_FREQUENCIES, len(MARGINAL_SCALES)))
    return (draws / np.sqrt(np.array(MARGINAL_SCALES))).reshape(-1).astype(np.float32)


def marginal_features(figures, target):
    """(B, F, 2 * MARGINAL_FREQUENCIES * len(MARGINAL_SCALES)): random Fourier features of
    each standardised figure (B, F) alone, whose dot products approximate the sum of the
    one-dimensional Gaussian kernels ``MARGINAL_SCALES``."""
    angles = standardised(figures, target)[:, :, None] * ops.convert_to_tensor(_marginal_frequencies())
    return ops.concatenate([ops.cos(angles), ops.sin(angles)], axis=2) / np.sqrt(MARGINAL_FREQUENCIES)


def real_marginal_mean(real_figures: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The mean of real windows' ``marginal_features`` (F, features): the data's side of
    ``texture_marginal_loss``, computed once."""
    return ops.convert_to_numpy(ops.mean(marginal_features(ops.convert_to_tensor(real_figures), ops.convert_to_tensor(target)), axis=0))


def texture_marginal_loss(figures, target, real_mean, batch_mean: Callable = _mean_over_batch):
    """The squared maximum mean discrepancy between the distribution of each of G's figures
    (B, F) and the data's, one figure at a time, averaged over the figures.

    ``texture_loss`` matches each figure's mean and spread, which a figure with two modes
    meets as well as one with the data's single mode, and the kernel of
    ``texture_kernel_loss`` reads the 55 figures together, where one figure's shape is a
    fifty-fifth of the distance: a generator trained without it put its lowest pitch on F2
    in 62% of its windows and on G1 in 21%, with the data's mean and spread, where the
    training windows spread over a dozen notes from G1 to A2, 37% of them on C2 or D2 (the
    generator's 9%). A one-dimensional kernel per figure (``MARGINAL_SCALES``) sees the
    shape; with it at weight 3 the lowest pitch spread over F2 (36%), C2 (23%) and A1 (17%)
    and more (``docs/results.md``). As in ``texture_kernel_loss``, the discrepancy is a
    distance between mean feature vectors, so a batch split over devices needs only its
    mean (``batch_mean``); ``real_mean`` is ``real_marginal_mean``."""
    return ops.mean(ops.sum(ops.square(batch_mean(marginal_features(figures, target)) - real_mean), axis=1))


def texture_kernel_loss(figures, target, real_mean, batch_mean: Callable = _mean_over_batch):
    """The squared maximum mean discrepancy (Gretton et al. 2012) between G's batch of
    figures (B, F) and real windows', standardised by ``target``: near zero when the two
    distributions agree, jointly, not figure by figure.

    ``texture_loss`` matches each figure's mean and spread; the classifier and the k-NN
    recall read the figures together, and there the generator trained with it alone sat
    far from the data while its moments matched: this discrepancy read 0.18 over 256 of
    its windows, against 0.006 between real ones, where the moments' gap read 0.13 over
    batches of 32 against 0.08. The kernel is a sum of Gaussian ones over several scales
    (``KERNEL_SCALES``), the widest reaching windows far from every real one, written with
    random Fourier features so that the discrepancy is the distance between two mean
    feature vectors: a batch split over devices needs only its mean (``batch_mean``),
    exactly as on one device; ``real_mean`` is ``real_kernel_mean``. Each window's pair
    with itself counts in the batch's mean: it adds at most ``len(KERNEL_SCALES)`` / B
    (0.06 between real batches of 32) and no gradient."""
    return ops.sum(ops.square(batch_mean(kernel_features(figures, target)) - real_mean))

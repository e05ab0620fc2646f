"""Our metrics against muspy's and pypianoroll's on the same music, name by name.

Every metric that shares a name with one of theirs must give their value; where the
libraries' code departs from the definition both state (and our docstrings say so), the
difference is pinned here exactly, so a change on either side shows up. A roll becomes a
muspy ``Music`` at 4 time steps per beat (one note per run of lit pixels, as ours) and a
pypianoroll ``BinaryTrack``; row ``r`` is MIDI pitch ``21 + r`` in both.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from test_compare import real_looking_rolls

from pianogan.evaluation import metrics
from pianogan.music import keys
from pianogan.roll import LOWEST_PITCH, N_PITCHES

muspy = pytest.importorskip("muspy", reason="muspy not installed (pip install -e '.[dev]')")
pypianoroll = pytest.importorskip("pypianoroll", reason="pypianoroll not installed (pip install -e '.[dev]')")

RESOLUTION = 4  # time steps per beat: one column


def random_rolls(n: int, seed: int, width: int = 96) -> np.ndarray:
    """Random chords and melodies: notes of 1-12 columns anywhere on the 106 rows, some
    windows sparse, some dense, so chords of 3+ pitches, rests and edge notes all occur."""
    rng = np.random.default_rng(seed)
    rolls = np.zeros((n, N_PITCHES, width), dtype=bool)
    for k in range(n):
        count = int(rng.integers(1, 60))
        for row, start, length in zip(rng.integers(0, N_PITCHES, count), rng.integers(0, width, count), rng.integers(1, 13, count)):
            rolls[k, row, start : start + length] = True
    return rolls


def edge_cases(width: int = 32) -> np.ndarray:
    """Silence, one short note, notes touching both edges, a held chord, notes above the piano."""
    rolls = np.zeros((6, N_PITCHES, width), dtype=bool)
    rolls[1, 39, 5] = True
    rolls[2, 10, :3] = rolls[2, 80, width - 1] = True
    rolls[3, [39, 43, 46], :] = True
    rolls[4, 100:106, 8:12] = rolls[4, 0, 0:4] = True
    rolls[5, 39, 0:4] = rolls[5, 41, 4:8] = rolls[5, 39, 8:12] = True  # ends on beat lines, then rests
    return rolls


ROLLS = np.concatenate([real_looking_rolls(12, seed=50, width=96), random_rolls(40, seed=51), edge_cases(96)])


def to_array(roll: np.ndarray) -> np.ndarray:
    """(T, 128) bool, the libraries' layout: time first, MIDI pitch second."""
    array = np.zeros((roll.shape[1], 128), dtype=bool)
    array[:, LOWEST_PITCH : LOWEST_PITCH + N_PITCHES] = roll.T
    return array


def to_music(roll: np.ndarray):
    return muspy.from_pianoroll_representation(to_array(roll), resolution=RESOLUTION, encode_velocity=False)


def to_track(roll: np.ndarray):
    return pypianoroll.BinaryTrack(pianoroll=to_array(roll))


def ours(metric, **options) -> np.ndarray:
    """Our metric over the whole stack at once: the vectorised path is the one checked."""
    return np.asarray(metric(ROLLS, **options), dtype=float)


def theirs(function, convert, *args, **options) -> np.ndarray:
    """Their function on each roll, converted afresh (pypianoroll writes into its input)."""
    return np.array([function(convert(roll) if convert is to_music else convert(roll).pianoroll, *args, **options) for roll in ROLLS], dtype=float)


SILENT = ~ROLLS.any(axis=(1, 2))
LAST_COLUMN_SOUNDS = ROLLS[:, :, -1].any(axis=1)


def test_the_sample_covers_the_cases_that_differ():
    assert SILENT.sum() == 1 and 0 < LAST_COLUMN_SOUNDS.sum() < len(ROLLS)
    assert (np.asarray(metrics.polyphony_rate(ROLLS)) > 0).sum() > 10  # columns with three or more pitches


@pytest.mark.parametrize("name", ["n_pitches_used", "polyphony", "pitch_class_entropy", "scale_consistency"])
def test_same_as_muspy(name):
    np.testing.assert_allclose(ours(getattr(metrics, name)), theirs(getattr(muspy, name), to_music), rtol=1e-12, equal_nan=True)


def test_n_pitch_classes_used_is_muspys_not_pypianorolls():
    np.testing.assert_array_equal(ours(metrics.n_pitch_classes_used), theirs(muspy.n_pitch_classes_used, to_music))
    # pypianoroll 1.0 folds pitch p onto p // 10: a C major triad at C4 (60, 64, 67) is one class
    triad = np.zeros((N_PITCHES, 8), dtype=bool)
    triad[[60 - LOWEST_PITCH, 64 - LOWEST_PITCH, 67 - LOWEST_PITCH]] = True
    assert metrics.n_pitch_classes_used(triad) == 3
    assert pypianoroll.n_pitch_classes_used(to_track(triad).pianoroll) == 1
    # (and any pitch from 120 up onto all twelve)
    used = [LOWEST_PITCH + np.flatnonzero(roll.any(axis=1)) for roll in ROLLS]
    tens = [12 if (pitches >= 120).any() else len(set(pitches // 10)) for pitches in used]
    np.testing.assert_array_equal(theirs(pypianoroll.n_pitch_classes_used, to_track), tens)


def test_n_pitches_used_and_pitch_range_as_pypianoroll():
    np.testing.assert_array_equal(ours(metrics.n_pitches_used), theirs(pypianoroll.n_pitches_used, to_track))
    np.testing.assert_array_equal(ours(metrics.pitch_range), theirs(pypianoroll.pitch_range, to_track))  # NaN when silent too


def test_pitch_range_as_muspy_except_silence():
    mine, muspys = ours(metrics.pitch_range), theirs(muspy.pitch_range, to_music)
    np.testing.assert_array_equal(mine[~SILENT], muspys[~SILENT])
    assert np.isnan(mine[SILENT]).all() and (muspys[SILENT] == 0).all()  # muspy: 0 for silence


@pytest.mark.parametrize("threshold", [1, 2, 3])
def test_polyphony_rate_as_pypianoroll_and_muspy(threshold):
    mine = ours(metrics.polyphony_rate, threshold=threshold)
    np.testing.assert_allclose(mine, theirs(pypianoroll.polyphonic_rate, to_track, threshold), rtol=1e-12)
    muspys = theirs(muspy.polyphony_rate, to_music, threshold)
    np.testing.assert_allclose(mine[LAST_COLUMN_SOUNDS], muspys[LAST_COLUMN_SOUNDS], rtol=1e-12)
    # muspy divides by the music's length, which ends with the last note: the window's
    # trailing silence is not in it. Silence has no length at all (NaN; ours 0).
    last = np.array([np.flatnonzero(roll.any(axis=0))[-1] + 1 if roll.any() else 0 for roll in ROLLS])
    sounding = ~SILENT
    np.testing.assert_allclose(mine[sounding] * ROLLS.shape[2] / last[sounding], muspys[sounding], rtol=1e-12)
    assert np.isnan(muspys[SILENT]).all() and (mine[SILENT] == 0).all()


def test_polyphonicity_is_not_muspys_polyphony_rate():
    chord = np.zeros((N_PITCHES, 8), dtype=bool)
    chord[[39, 43], :4] = True  # two pitches, then a rest
    assert metrics.polyphonicity(chord) == 1.0  # ours: 2+ pitches, of sounding columns
    assert muspy.polyphony_rate(to_music(chord)) == 0.0 == metrics.polyphony_rate(chord)  # theirs: 3+


def test_empty_beat_rate_follows_the_stated_definition():
    mine = ours(metrics.empty_beat_rate)
    # pypianoroll 1.0 returns the share of NON-empty beats
    np.testing.assert_allclose(mine, 1 - theirs(pypianoroll.empty_beat_rate, to_track, RESOLUTION), rtol=1e-12)

    # muspy 0.5 marks busy the beat where a note's exclusive end falls and counts beats
    # up to the last end: given each note's last column as its end, it agrees with us
    # wherever the window's last column sounds (so both count the same beats).
    def inclusive(roll):
        music = to_music(roll)
        for note in music.tracks[0].notes:
            note.duration -= 1
        return music

    muspys = np.array([muspy.empty_beat_rate(inclusive(roll)) for roll in ROLLS[LAST_COLUMN_SOUNDS]])
    np.testing.assert_allclose(mine[LAST_COLUMN_SOUNDS], muspys, rtol=1e-12)
    # as it is, a note ending on a beat line fills the next beat in muspy
    on_the_line = np.zeros((N_PITCHES, 16), dtype=bool)
    on_the_line[39, 0:4] = on_the_line[39, 8:9] = True  # beats: busy, empty, busy, empty
    assert metrics.empty_beat_rate(on_the_line) == 2 / 4
    assert muspy.empty_beat_rate(to_music(on_the_line)) == 0.0  # beats 0-2 of a 9-step piece, all "busy"


def test_out_of_key_share_is_muspys_pitch_in_scale_rate_for_our_key():
    key = keys.estimate_keys(ROLLS)
    expected = [1 - muspy.pitch_in_scale_rate(to_music(roll), int(k) % 12, "minor" if k >= 12 else "major") for roll, k in zip(ROLLS, key)]
    np.testing.assert_allclose(ours(metrics.out_of_key_share), expected, rtol=1e-12, equal_nan=True)


def test_the_conversion_keeps_our_notes():
    for roll in ROLLS:
        music = to_music(roll)
        notes = music.tracks[0].notes if music.tracks else []
        assert len(notes) == metrics.note_count(roll)
        assert sum(note.duration for note in notes) == roll.sum()
        if len(notes):
            assert math.isclose(np.mean([note.pitch for note in notes]), metrics.mean_pitch(roll))

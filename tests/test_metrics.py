"""Per-piece metrics on hand-made rolls whose answers are worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pianogan import metrics
from pianogan.roll import LOWEST_PITCH, N_PITCHES


def roll_with(notes: list[tuple[int, int, int]], width: int = 16) -> np.ndarray:
    """A roll with notes given as (MIDI pitch, first column, length)."""
    roll = np.zeros((N_PITCHES, width), dtype=bool)
    for pitch, start, length in notes:
        roll[pitch - LOWEST_PITCH, start : start + length] = True
    return roll


# C4 for 4 columns, E4 for 1, G4 for 8, C4 again for 2; columns 12..15 silent.
MELODY = roll_with([(60, 0, 4), (64, 2, 1), (67, 4, 8), (60, 6, 2)])


def test_every_metric_of_a_hand_made_roll():
    assert metrics.piece_features(MELODY) == {
        "note_count": 4.0,
        "lit_share": 15 / (106 * 16),
        "onsets_per_column": 4 / 16,
        "mean_note_length": 15 / 4,
        "qualified_note_rate": 3 / 4,  # the E4 lasts one column
        "polyphony": 15 / 12,  # 15 lit pixels over the 12 sounding columns
        "polyphony_rate": 3 / 16,  # columns 2, 6 and 7 hold two pitches
        "polyphonicity": 3 / 12,
        "empty_beat_rate": 1 / 4,  # columns 12..15
        "mean_pitch": (60 + 64 + 67 + 60) / 4,
        "pitch_range": 7.0,
        "n_pitches_used": 3.0,
        "n_pitch_classes_used": 3.0,
        "pitch_class_entropy": 1.5,  # C 1/2, E 1/4, G 1/4
        "scale_consistency": 1.0,
        "mean_pitch_interval": (4 + 3 + 7) / 3,  # C4 E4 G4 C4 in onset order
        "mean_inter_onset_interval": 2.0,  # onsets at 0, 2, 4, 6
        "outside_piano_share": 0.0,
    }


def test_histograms_of_a_hand_made_roll():
    assert metrics.note_length_histogram(MELODY).tolist() == [0.25, 0.25, 0.0, 0.25, 0.25, 0.0, 0.0]
    expected = np.zeros(12)
    expected[[0, 4, 7]] = [0.5, 0.25, 0.25]
    assert metrics.pitch_class_histogram(MELODY).tolist() == expected.tolist()
    assert metrics.LENGTH_BIN_LABELS == ("1", "2", "3", "4", "5-8", "9-16", "17+")


def test_note_length_bins_hold_their_ranges():
    roll = roll_with([(40, 0, 5), (41, 0, 8), (42, 0, 9), (43, 0, 16), (44, 0, 17), (45, 0, 40)], width=40)
    assert metrics.note_length_histogram(roll).tolist() == [0, 0, 0, 0, 2 / 6, 2 / 6, 2 / 6]


def test_a_silent_roll_has_counts_and_nans():
    values = metrics.piece_features(np.zeros((N_PITCHES, 300), dtype=bool))
    defined = {"note_count": 0.0, "lit_share": 0.0, "onsets_per_column": 0.0, "polyphony_rate": 0.0, "empty_beat_rate": 1.0, "n_pitches_used": 0.0, "n_pitch_classes_used": 0.0}
    assert {k: v for k, v in values.items() if k in defined} == defined
    assert all(math.isnan(v) for k, v in values.items() if k not in defined)
    assert np.isnan(metrics.pitch_class_histogram(np.zeros((N_PITCHES, 8), bool))).all()
    assert np.isnan(metrics.note_length_histogram(np.zeros((N_PITCHES, 8), bool))).all()


def test_runs_split_on_gaps_and_touch_the_edges():
    roll = roll_with([(50, 0, 3), (50, 4, 2), (50, 7, 3)], width=10)  # ends at the last column
    assert metrics.note_count(roll) == 3
    assert metrics.mean_note_length(roll) == 8 / 3
    assert metrics.onsets(roll)[50 - LOWEST_PITCH].nonzero()[0].tolist() == [0, 4, 7]


def test_a_chord_and_its_intervals():
    # C major triad then G major triad below it, 4 columns each; notes in onset-then-pitch
    # order are C4 E4 G4 | G3 B3 D4: intervals 4 3 | 12 | 4 3.
    roll = roll_with([(60, 0, 4), (64, 0, 4), (67, 0, 4), (55, 4, 4), (59, 4, 4), (62, 4, 4)], width=8)
    assert metrics.mean_pitch_interval(roll) == 26 / 5
    assert metrics.polyphony(roll) == 3.0
    assert metrics.polyphonicity(roll) == 1.0
    assert metrics.mean_inter_onset_interval(roll) == 4.0
    assert metrics.pitch_range(roll) == 12.0
    assert metrics.lowest_pitch(roll) == 55 and metrics.highest_pitch(roll) == 67


def test_a_held_pitch_is_one_note():
    roll = roll_with([(60, 0, 4), (60, 4, 4)], width=8)  # no gap: the seed format cannot tell a re-strike
    assert metrics.note_count(roll) == 1
    assert metrics.mean_note_length(roll) == 8.0


def test_polyphony_rate_counts_rests_and_polyphonicity_does_not():
    roll = roll_with([(60, 0, 4), (64, 0, 2)], width=8)  # 2 voices, 1 voice, then 4 silent columns
    assert metrics.polyphony_rate(roll) == 2 / 8
    assert metrics.polyphonicity(roll) == 2 / 4
    assert metrics.polyphony_rate(roll, threshold=1) == 4 / 8


def test_scale_consistency_weighs_note_time():
    # Note time: C 6, E 4, G 2, F# 2, C# 2 columns. C major keeps 12 of 16, D major
    # (E, G, F#, C#) 10, G major / E minor (C, E, G, F#) 14: the best scale wins.
    roll = roll_with([(60, 0, 6), (64, 0, 4), (67, 0, 2), (66, 8, 2), (61, 8, 2)], width=16)
    assert metrics.scale_consistency(roll) == 14 / 16


def test_pitch_class_entropy_of_two_equal_classes_is_one_bit():
    roll = roll_with([(60, 0, 2), (62, 4, 7)], width=12)
    assert metrics.pitch_class_entropy(roll) == 1.0
    assert metrics.n_pitch_classes_used(roll_with([(48, 0, 1), (60, 2, 1), (72, 4, 1)])) == 1


def test_empty_beats_count_a_partial_last_beat():
    roll = roll_with([(60, 0, 1), (60, 9, 1)], width=10)  # beats: [0-3] busy, [4-7] empty, [8-9] busy
    assert metrics.empty_beat_rate(roll) == 1 / 3


def test_notes_above_the_piano():
    roll = roll_with([(108, 0, 2), (109, 0, 2), (126, 4, 1), (21, 4, 1)])
    assert metrics.outside_piano_share(roll) == 2 / 4


def test_the_fast_path_matches_piece_by_piece():
    rng = np.random.default_rng(0)
    rolls = rng.random((40, N_PITCHES, 60)) < 0.05
    rolls[3] = False  # a silent one among them
    table = metrics.features(rolls, batch=7)
    assert table.shape == (40, len(metrics.FEATURE_NAMES))
    one_by_one = np.array([list(metrics.piece_features(r).values()) for r in rolls])
    np.testing.assert_array_equal(table, one_by_one)
    assert metrics.pitch_class_histogram(rolls).shape == (40, 12)


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="106"):
        metrics.note_count(np.zeros((88, 10), bool))
    with pytest.raises(ValueError, match="T >= 1"):
        metrics.note_count(np.zeros((106, 0), bool))
    with pytest.raises(ValueError, match="features"):
        metrics.piece_features(np.zeros((2, 106, 10), bool))

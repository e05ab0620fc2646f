"""Per-piece metrics on hand-made rolls whose answers are worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pianogan.evaluation import metrics
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
    assert metrics.piece_features(MELODY) == pytest.approx(
        {
            "note_count": 4.0,
            "lit_share": 15 / (106 * 16),
            "onsets_per_column": 4 / 16,
            "mean_note_length": 15 / 4,
            "notes_at_least_an_eighth_share": 3 / 4,  # the E4 lasts one column
            "polyphony": 15 / 12,  # 15 lit pixels over the 12 sounding columns
            "polyphony_rate": 0.0,  # no column holds more than two pitches
            "polyphonicity": 3 / 12,  # columns 2, 6 and 7 hold two
            "mean_pitch": (60 + 64 + 67 + 60) / 4,
            "pitch_range": 7.0,
            "largest_pitch_gap": 4.0,  # C4 E4 G4: gaps 4 and 3
            "n_pitches_used": 3.0,
            "outside_piano_share": 0.0,
            "n_pitch_classes_used": 3.0,
            "pitch_class_entropy": 1.5,  # C 1/2, E 1/4, G 1/4
            "scale_consistency": 1.0,
            "scale_consistency_by_duration": 1.0,
            "out_of_key_share": 0.0,
            "bass_on_chord_root": 1.0,  # C major (C 6, E 1, G 8 columns) over C4 in beat 1
            "empty_beat_rate": 1 / 4,  # columns 12..15
            "mean_inter_onset_interval": 2.0,  # onsets at 0, 2, 4, 6
            "beat_phase_consistency": math.nan,  # no onset in columns 8..15
            "downbeat_clarity": 4.0,  # 1 onset at column 0 against 4 in 16 columns
            "onset_periodicity_1_bar": math.nan,  # a single bar
            "onset_periodicity_2_bars": math.nan,
            "bass_on_beat": math.nan,  # nothing starts below C4
            "mean_pitch_interval": (4 + 3 + 7) / 3,  # C4 E4 G4 C4 in onset order
            "top_voice_stepwise_share": 0.0,  # top voice C4 E4 G4 (the last C4 starts under G4): leaps
            "mean_top_voice_interval": (4 + 3) / 2,
            "pitch_class_repetition_1_bar": math.nan,  # one bar: no pair of bars
            "pitch_class_repetition_2_bars": math.nan,
            "pitch_class_repetition_4_bars": math.nan,
            "rhythm_repetition_1_bar": math.nan,
            "rhythm_repetition_2_bars": math.nan,
            "rhythm_repetition_4_bars": math.nan,
            "drone": 0.0,
            "isolated_short_notes": 0.0,  # the one-column E4 sounds beside C4
        },
        nan_ok=True,
    )


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
    defined = {
        "note_count": 0.0,
        "lit_share": 0.0,
        "onsets_per_column": 0.0,
        "polyphony_rate": 0.0,
        "empty_beat_rate": 1.0,
        "n_pitches_used": 0.0,
        "n_pitch_classes_used": 0.0,
        "drone": 0.0,
    }
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


def test_polyphony_rate_counts_more_than_threshold_over_all_columns():
    # 3 voices for 2 columns, 2 for 2, 1 for 2, then 2 silent columns
    roll = roll_with([(60, 0, 6), (64, 0, 4), (67, 0, 2)], width=8)
    assert metrics.polyphony_rate(roll) == 2 / 8  # muspy: MORE than 2 pitches, over all columns
    assert metrics.polyphony_rate(roll, threshold=1) == 4 / 8
    assert metrics.polyphonicity(roll) == 4 / 6  # ours: 2 or more, over sounding columns
    assert metrics.polyphonicity(roll, threshold=3) == 2 / 6


def test_scale_consistency_counts_notes_and_its_duration_variant_weighs_time():
    # Notes C E G F# C#, each once: C major or G major holds 4 of 5 (D major holds only
    # E G F# C#, also 4). Note time: C 6, E 4, G 2, F# 2, C# 2 columns: C major keeps
    # 12 of 16, D major (E, G, F#, C#) 10, G major / E minor (C, E, G, F#) 14.
    roll = roll_with([(60, 0, 6), (64, 0, 4), (67, 0, 2), (66, 8, 2), (61, 8, 2)], width=16)
    assert metrics.scale_consistency(roll) == 4 / 5
    assert metrics.scale_consistency_by_duration(roll) == 14 / 16


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


# --- structure metrics ----------------------------------------------------------------------------


def quarter_notes(phase: int, first: int, last: int, pitch: int = 60) -> list[tuple[int, int, int]]:
    """One-column notes on every column ``c`` with ``c % 4 == phase``, first <= c < last."""
    return [(pitch, c, 1) for c in range(first, last) if c % 4 == phase]


def test_beat_phase_consistency_needs_one_phase_in_all_four_quarters():
    steady = roll_with(quarter_notes(0, 0, 64), width=64)
    drifting = roll_with(quarter_notes(0, 0, 32) + quarter_notes(1, 32, 64), width=64)
    # the last quarter has as many onsets on phase 2 as on phase 0: a tie still holds phase 0
    tied = roll_with(quarter_notes(0, 0, 64) + quarter_notes(2, 48, 64, pitch=72), width=64)
    resting = roll_with(quarter_notes(0, 0, 48), width=64)  # nothing in the last quarter
    values = metrics.beat_phase_consistency(np.stack([steady, drifting, tied, resting]))
    np.testing.assert_array_equal(values, [1.0, 0.0, 1.0, np.nan])


def test_beat_phase_consistency_splits_uneven_widths_by_column():
    # 10 columns: quarters are columns 0-2, 3-4, 5-7, 8-9 (c * 4 // 10); onsets at 0, 4, 5, 8
    roll = roll_with([(60, 0, 1), (60, 4, 1), (62, 5, 1), (60, 8, 1)], width=10)
    assert metrics.beat_phase_consistency(roll) == 0.0  # the third quarter's only onset is on phase 1
    roll = roll_with([(60, 0, 1), (60, 4, 1), (62, 6, 1), (62, 5, 1), (60, 8, 1)], width=10)
    assert np.isnan(metrics.beat_phase_consistency(roll[:, :3]))  # three columns: an empty quarter


def test_downbeat_clarity_compares_bar_starts_with_the_mean_column():
    every_beat = roll_with(quarter_notes(0, 0, 32), width=32)  # 8 onsets, 2 on bar lines
    assert metrics.downbeat_clarity(every_beat) == (2 / 2) / (8 / 32)
    bar_lines_only = roll_with([(60, 0, 1), (60, 16, 1)], width=32)
    assert metrics.downbeat_clarity(bar_lines_only) == 16.0
    chord_on_one = roll_with([(60, 0, 1), (64, 0, 1), (67, 0, 1), (60, 8, 1)], width=16)
    assert metrics.downbeat_clarity(chord_on_one) == 3 / (4 / 16)  # each note counts
    assert metrics.downbeat_clarity(roll_with([(60, 5, 1)], width=16)) == 0.0
    assert np.isnan(metrics.downbeat_clarity(roll_with([], width=16)))


def test_onset_periodicity_is_the_correlation_at_one_and_two_bars():
    bar_a = [(48, 0, 4), (60, 0, 2), (64, 4, 2), (67, 8, 2), (64, 12, 2)]
    bar_b = [(43, 2, 4), (59, 6, 2), (62, 10, 2), (67, 14, 2)]  # the off-beats of bar A
    notes = [(p, s + 16 * bar, n) for bar in range(4) for p, s, n in (bar_a if bar % 2 == 0 else bar_b)]
    roll = roll_with(notes, width=64)
    counts = metrics.onsets(roll).sum(axis=0).astype(float)
    assert metrics.onset_periodicity(roll, 32) == pytest.approx(1.0)  # A B A B: every two bars
    assert metrics.onset_periodicity(roll, 16) == pytest.approx(np.corrcoef(counts[:-16], counts[16:])[0, 1])
    assert metrics.onset_periodicity(roll, 16) < 0  # bar B starts where bar A rests
    assert metrics.onset_periodicity(np.stack([roll, roll[::-1]]), 32) == pytest.approx([1.0, 1.0])
    assert np.isnan(metrics.onset_periodicity(roll[:, :33], 32))  # one overlapping column
    assert np.isnan(metrics.onset_periodicity(roll_with([(60, 0, 64)], width=64), 16))  # constant series


def test_the_top_voice_moves_by_steps_and_leaps():
    # Melody C5 D5 E5 E5 C6 over a bass; a low note starting under the held C6 is not in it.
    melody = [(72, 0, 2), (74, 2, 2), (76, 4, 1), (76, 6, 2), (84, 8, 8)]
    below = [(48, 0, 8), (55, 4, 4), (43, 12, 4)]
    roll = roll_with(melody + below, width=16)
    # moves: 2, 2, 0 (repeat), 8
    assert metrics.top_voice_stepwise_share(roll) == 2 / 3
    assert metrics.mean_top_voice_interval(roll) == 12 / 4
    chords_only = roll_with([(60, 0, 4), (64, 0, 4), (62, 4, 4), (65, 4, 4)], width=8)  # top E4 then F4
    assert metrics.top_voice_stepwise_share(chords_only) == 1.0
    one_note = roll_with([(60, 0, 4), (60, 5, 2)], width=8)
    assert np.isnan(metrics.top_voice_stepwise_share(one_note)) and metrics.mean_top_voice_interval(one_note) == 0.0


def test_a_drone_is_a_note_of_four_bars():
    rolls = np.stack(
        [
            roll_with([(40, 0, 64)], width=80),
            roll_with([(40, 0, 63), (52, 10, 70)], width=80),  # the second one lasts 70
            roll_with([(40, 0, 63), (40, 64, 16)], width=80),  # 79 lit pixels, but two notes
            roll_with([], width=80),
        ]
    )
    np.testing.assert_array_equal(metrics.drone(rolls), [1.0, 1.0, 0.0, 0.0])


def test_isolated_short_notes_are_one_column_with_nothing_near():
    texture = [(60, 0, 12), (64, 0, 12)]
    cases = {
        "a fifth above the texture": ([(71, 5, 1)], 1 / 3),
        "a tritone above": ([(70, 5, 1)], 0.0),
        "two columns long": ([(80, 5, 2)], 0.0),
        "far above, a neighbour 3 columns later": ([(90, 5, 1), (91, 8, 1)], 2 / 4),
        "far above, a neighbour 2 columns later": ([(90, 5, 1), (91, 7, 1)], 0.0),
        "far above, the same pitch 2 columns later": ([(90, 5, 1), (90, 7, 1)], 0.0),
        "far below": ([(40, 11, 1)], 1 / 3),  # the last column of the window still counts
    }
    for name, (extra, share) in cases.items():
        assert metrics.isolated_short_notes(roll_with(texture + extra, width=12)) == share, name
    assert np.isnan(metrics.isolated_short_notes(roll_with([], width=12)))


def test_largest_pitch_gap_between_used_pitches():
    assert metrics.largest_pitch_gap(roll_with([(40, 0, 2), (41, 4, 2), (60, 8, 2), (64, 8, 2)])) == 19.0
    assert metrics.largest_pitch_gap(roll_with([(21, 0, 1), (126, 0, 1)])) == 105.0
    assert np.isnan(metrics.largest_pitch_gap(roll_with([(40, 0, 2), (40, 4, 2)])))


def test_out_of_key_share_counts_notes_outside_the_estimated_key():
    from pianogan.music import keys

    # C major: long C, E, G; a scale run; one short F#.
    roll = roll_with([(48, 0, 16), (52, 0, 16), (55, 0, 16)] + [(p, i, 1) for i, p in enumerate((60, 62, 64, 65, 66, 67, 69, 71))], width=16)
    assert keys.estimate_keys(roll) == keys.parse_key("C major")
    assert metrics.out_of_key_share(roll) == 1 / 11
    assert metrics.scale_consistency(roll) == 10 / 11
    assert np.isnan(metrics.out_of_key_share(roll_with([], width=16)))


def test_bass_on_beat_counts_low_onsets_on_beats():
    notes = [(36, 0, 2), (43, 4, 2), (40, 8, 1), (41, 10, 2)]  # bass on beats 1, 2, 3, then off the beat
    notes += [(72, 6, 2), (67, 13, 1)]  # melody alone off the beat: not bass (C4 and up)
    notes += [(48, 12, 4), (59, 12, 1)]  # two low notes at once: the lower one is the bass
    roll = roll_with(notes, width=16)
    assert metrics.bass_on_beat(roll) == 4 / 5
    assert np.isnan(metrics.bass_on_beat(roll_with([(60, 0, 4), (64, 2, 1)])))


def test_bass_on_chord_root_per_bar():
    c_major = [(60, 0, 16), (64, 0, 16), (67, 0, 16), (48, 0, 4)]  # C E G over C3
    a_minor_over_c = [(57, 16, 16), (60, 16, 16), (64, 16, 16), (48, 16, 4)]  # first inversion
    late = [(62, 40, 4)]  # bar 3: nothing in its first beat, left out
    g_seventh = [(55, 48, 16), (59, 48, 16), (62, 48, 16), (65, 48, 16), (43, 48, 2)]  # G B D F over G2
    lone_e = [(64, 64, 16)]  # one pitch class: the triads rooted on it win the tie
    roll = roll_with(c_major + a_minor_over_c + late + g_seventh + lone_e, width=84)  # 5 bars and 4 columns
    assert metrics.bass_on_chord_root(roll) == 3 / 4
    assert np.isnan(metrics.bass_on_chord_root(roll[:, :15]))  # no whole bar


def test_repetition_of_pitch_classes_and_rhythm_between_bars():
    c_bar = [(60, 0, 16), (64, 0, 16), (67, 0, 16)] + [(72, c, 1) for c in (0, 4, 8, 12)]
    g_bar = [(55, 0, 16), (59, 0, 16), (62, 0, 16)] + [(67, c, 1) for c in (0, 8)]
    notes = [(p, s + 16 * bar, n) for bar in range(4) for p, s, n in (c_bar if bar % 2 == 0 else g_bar)]
    roll = roll_with(notes, width=64)
    c, g = np.zeros(12), np.zeros(12)
    c[[0, 4, 7]] = 16
    c[0] += 4  # the melody C5, four sixteenths
    g[[7, 11, 2]] = 16
    g[7] += 2
    cosine = c @ g / np.linalg.norm(c) / np.linalg.norm(g)
    assert metrics.pitch_class_repetition(roll, 1) == pytest.approx(cosine)
    assert metrics.pitch_class_repetition(roll, 2) == pytest.approx(1.0)
    assert np.isnan(metrics.pitch_class_repetition(roll, 4))  # four bars: no pair four apart
    assert metrics.rhythm_repetition(roll, 1) == pytest.approx(2 / math.sqrt(4 * 2))  # onsets 0 4 8 12 vs 0 8
    assert metrics.rhythm_repetition(roll, 2) == pytest.approx(1.0)
    with_rest = roll.copy()
    with_rest[:, 16:32] = False  # bar 2 silent: pairs (1, 2) and (2, 3) are left out
    assert metrics.pitch_class_repetition(with_rest, 1) == pytest.approx(cosine)
    assert metrics.rhythm_repetition(with_rest, 2) == pytest.approx(1.0)  # only the pair (1, 3)


def test_structure_metrics_are_in_the_feature_list():
    for name in (
        "beat_phase_consistency",
        "downbeat_clarity",
        "onset_periodicity_1_bar",
        "onset_periodicity_2_bars",
        "top_voice_stepwise_share",
        "mean_top_voice_interval",
        "drone",
        "isolated_short_notes",
        "largest_pitch_gap",
        "out_of_key_share",
        "bass_on_beat",
        "bass_on_chord_root",
        "empty_beat_rate",
        *(f"{kind}_repetition_{lag}" for kind in ("pitch_class", "rhythm") for lag in ("1_bar", "2_bars", "4_bars")),
    ):
        assert name in metrics.FEATURE_NAMES
    assert "qualified_note_rate" not in metrics.FEATURE_NAMES

"""Stray notes and how a generator's probabilities are decided into notes."""

import numpy as np

from pianogan.compose import generate
from pianogan.evaluation import metrics
from pianogan.music.strays import STRAY_MARGIN, decide_notes, stray_notes
from pianogan.roll import LOWEST_PITCH, N_PITCHES


def probabilities_with(notes: list[tuple[int, int, int, float]], width: int = 12) -> np.ndarray:
    """Probabilities with notes given as (MIDI pitch, first column, length, probability)."""
    p = np.full((N_PITCHES, width), 0.1, dtype=np.float32)
    for pitch, start, length, probability in notes:
        p[pitch - LOWEST_PITCH, start : start + length] = probability
    return p


CHORD = [(60, 0, 12, 0.9), (64, 0, 12, 0.9)]


def test_a_stray_note_is_one_column_with_nothing_within_a_tritone_and_two_columns():
    cases = {
        "a fifth above the chord": ([(71, 5, 1, 0.9)], [(71, 5)]),
        "a tritone above": ([(70, 5, 1, 0.9)], []),
        "two columns long": ([(80, 5, 2, 0.9)], []),
        "far above, a neighbour 3 columns later": ([(90, 5, 1, 0.9), (91, 8, 1, 0.9)], [(90, 5), (91, 8)]),
        "far above, a neighbour 2 columns later": ([(90, 5, 1, 0.9), (91, 7, 1, 0.9)], []),
        "far below, in the last column": ([(40, 11, 1, 0.9)], [(40, 11)]),
    }
    for name, (extra, strays) in cases.items():
        found = stray_notes(probabilities_with(CHORD + extra) >= 0.5)
        assert sorted(zip(*np.nonzero(found), strict=True)) == [(p - LOWEST_PITCH, c) for p, c in strays], name


def test_stray_notes_reads_a_stack_as_each_roll_alone():
    rolls = np.stack([probabilities_with([*CHORD, (90, 5, 1, 0.9)]) >= 0.5, probabilities_with([(91, 7, 1, 0.9)]) >= 0.5])
    assert np.array_equal(stray_notes(rolls), np.stack([stray_notes(rolls[0]), stray_notes(rolls[1])]))
    assert np.count_nonzero(stray_notes(rolls)) == 2  # not each other's neighbours


def test_the_metric_counts_the_stray_notes_among_all_notes():
    roll = probabilities_with([*CHORD, (90, 5, 1, 0.9), (30, 2, 1, 0.9), (66, 3, 1, 0.9)]) >= 0.5
    assert metrics.isolated_short_notes(roll) == 2 / 5


def test_an_unsure_stray_note_is_not_written_and_a_sure_one_is():
    p = probabilities_with([*CHORD, (90, 2, 1, 0.5 + STRAY_MARGIN / 2), (30, 8, 1, 0.5 + STRAY_MARGIN), (66, 6, 1, 0.51)])
    notes = decide_notes(p)
    assert not notes[90 - LOWEST_PITCH].any()
    assert notes[30 - LOWEST_PITCH, 8]  # at the threshold plus the margin
    assert notes[66 - LOWEST_PITCH, 6]  # unsure, but beside the chord: part of the texture
    assert np.array_equal(notes | (p == 0.5 + STRAY_MARGIN / 2), p >= 0.5)
    assert np.array_equal(decide_notes(p, margin=0), p >= 0.5)


def test_the_margin_is_counted_from_the_threshold():
    p = probabilities_with([(90, 2, 1, 0.32), (40, 8, 1, 0.36)])
    assert np.flatnonzero(decide_notes(p, threshold=0.3).any(axis=1)).tolist() == [40 - LOWEST_PITCH]


def test_joined_windows_leave_out_an_unsure_stray_note_on_either_side_of_the_seam():
    windows = np.zeros((2, N_PITCHES, 300), dtype=np.float32)
    windows[:, 30] = 0.9
    windows[0, 80, 100] = 0.52  # a blip far above, in the first window alone
    windows[1, 80, 250] = 0.52  # one in the second, after the seam
    windows[1, 81, 150] = 0.6  # a sure one stays
    roll = generate.join_windows(windows, 525)
    assert np.flatnonzero(roll[80]).tolist() == []
    assert np.flatnonzero(roll[81]).tolist() == [225 + 150]


def test_deciding_only_ever_leaves_notes_out():
    p = (0.56 * np.random.default_rng(0).random((3, N_PITCHES, 40)) ** 4).astype(np.float32)  # 3% sound, most barely
    notes = decide_notes(p)
    assert not (notes & (p < 0.5)).any()
    left_out = (p >= 0.5) & ~notes
    assert left_out.any() and np.array_equal(left_out, stray_notes(p >= 0.5) & (p < 0.5 + STRAY_MARGIN))


def test_neighbours_in_memory_across_a_roll_edge_are_not_neighbours_in_music():
    """Row-major, the last column of one pitch lies beside the first of the next, and one
    roll's top row beside the next roll's bottom row."""
    rolls = np.zeros((2, N_PITCHES, 12), dtype=bool)
    rolls[0, 40, 11] = rolls[0, 41, 0] = True  # a pitch's last column, the next pitch's first
    rolls[0, N_PITCHES - 1, 6] = rolls[1, 0, 6] = True  # one roll's highest row, the next one's lowest
    assert np.array_equal(stray_notes(rolls), rolls)
    p = np.where(rolls, np.float32(0.52), np.float32(0.1))
    assert not decide_notes(p).any()


def test_notes_are_decided_alike_however_the_probabilities_lie_in_memory():
    """The NumPy model writes its windows column by column: the same values read the same."""
    by_column = (0.56 * np.random.default_rng(1).random((3, 40, N_PITCHES)) ** 4).astype(np.float32)
    p = by_column.transpose(0, 2, 1)
    assert not p.flags.c_contiguous
    notes = decide_notes(p)
    assert np.array_equal(notes, decide_notes(np.ascontiguousarray(p))) and notes.any() and ((p >= 0.5) & ~notes).any()

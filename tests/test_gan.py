"""``models.gan``'s two functions on hand-made inputs: the straight-through binariser and
the augmentation D sees (moves in time and pitch, a blanked bar)."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

from pianogan.models.gan import augment, straight_through_binarize  # noqa: E402
from pianogan.roll import COLUMNS_PER_BAR  # noqa: E402


def test_straight_through_binarize_is_hard_forward():
    p = tf.constant([0.0, 0.2, 0.4999, 0.5, 0.73, 1.0])
    assert straight_through_binarize(p).numpy().tolist() == [0.0, 0.0, 0.0, 1.0, 1.0, 1.0]


def test_straight_through_binarize_passes_the_gradient_unchanged():
    p = tf.Variable([0.1, 0.6, 0.9])
    weights = tf.constant([2.0, -3.0, 5.0])
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(weights * straight_through_binarize(p))
    np.testing.assert_allclose(tape.gradient(loss, p).numpy(), weights.numpy())


def test_through_a_sigmoid_the_gradient_is_the_sigmoids():
    logits = tf.Variable([-2.0, 0.0, 1.5])
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(straight_through_binarize(tf.sigmoid(logits)))
    s = 1 / (1 + np.exp(-logits.numpy()))
    np.testing.assert_allclose(tape.gradient(loss, logits).numpy(), s * (1 - s), rtol=1e-6)


# A start a whole bar before the window blanks nothing; see the test of -1 below.
NO_BLANK = -COLUMNS_PER_BAR


def one_note(pitch_row: int, column: int, rows: int = 106, columns: int = 64) -> np.ndarray:
    roll = np.zeros((1, rows, columns, 1), np.float32)
    roll[0, pitch_row, column, 0] = 1.0
    return roll


def lit(rolls) -> list[tuple[int, int]]:
    array = np.asarray(rolls)[0, ..., 0]
    return [(int(r), int(c)) for r, c in zip(*np.nonzero(array))]


@pytest.mark.parametrize(
    ("shift", "transpose", "expected"),
    [(0, 0, [(40, 20)]), (3, 0, [(40, 23)]), (-5, 0, [(40, 15)]), (0, 2, [(42, 20)]), (0, -7, [(33, 20)]), (4, 1, [(41, 24)])],
)
def test_augment_moves_in_time_and_pitch(shift, transpose, expected):
    moved = augment(one_note(40, 20), np.array([[shift, transpose, NO_BLANK]]))
    assert lit(moved) == expected


def test_augment_loses_what_moves_out_and_lets_silence_in():
    assert lit(augment(one_note(40, 62), np.array([[5, 0, NO_BLANK]]))) == []
    assert lit(augment(one_note(104, 10), np.array([[0, 3, NO_BLANK]]))) == []
    roll = np.ones((1, 106, 64, 1), np.float32)
    moved = np.asarray(augment(roll, np.array([[2, -1, NO_BLANK]])))[0, ..., 0]
    assert not moved[:, :2].any()  # two silent columns come in from before the window
    assert not moved[-1].any()  # moved down a semitone: silence comes in from above the top row
    assert moved[:-1, 2:].all()


def test_augment_blanks_one_bar_from_its_start_column():
    roll = np.ones((2, 106, 64, 1), np.float32)
    blanked = np.asarray(augment(roll, np.array([[0, 0, 16], [0, 0, NO_BLANK]])))[..., 0]
    dark = ~blanked[0].any(axis=0)
    assert np.flatnonzero(dark).tolist() == list(range(16, 16 + COLUMNS_PER_BAR))
    assert blanked[1].all()


def test_augment_blanks_nothing_for_a_start_of_minus_one():
    """-1 is what ``batches.d_moves`` passes for "no blanked bar"."""
    roll = np.ones((1, 106, 64, 1), np.float32)
    assert np.asarray(augment(roll, np.array([[0, 0, -1]]))).all()


def test_augment_is_differentiable_towards_the_rolls():
    rolls = tf.Variable(one_note(40, 20))
    with tf.GradientTape() as tape:
        out = augment(rolls, np.array([[3, 2, NO_BLANK]]))
        loss = tf.reduce_sum(out * one_note(42, 23))
    gradient = tape.gradient(loss, rolls).numpy()
    assert lit(gradient) == [(40, 20)]

"""Texture figures of hand-made rolls, their expectations under drawn pixels, and the loss."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("keras")

from pianogan.evaluation import metrics
from pianogan.models.texture import (
    FEATURES,
    LENGTH_EDGES,
    REGISTER_EDGES,
    heard_figures,
    note_length_counts,
    real_kernel_mean,
    real_marginal_mean,
    texture_features,
    texture_figures,
    texture_kernel_loss,
    texture_loss,
    texture_marginal_loss,
    texture_target,
)
from pianogan.music import keys
from pianogan.roll import COLUMNS_PER_BAR, PITCH_CLASS_NAMES


def figures(roll: np.ndarray) -> dict[str, float]:
    return dict(zip(FEATURES, np.asarray(texture_features(roll[None].astype(np.float32)))[0]))


def hand_made() -> np.ndarray:
    """Four notes on a 106 x 32 roll: an eighth and a quarter on row 10, a sixteenth on row
    40 and a note held from column 20 past the window's end on row 70."""
    roll = np.zeros((106, 32), bool)
    roll[10, 0:2] = True  # an eighth on beat 1
    roll[10, 4:8] = True  # a quarter on beat 2
    roll[40, 6] = True  # a sixteenth on the third sixteenth of beat 2
    roll[70, 20:32] = True  # 12 columns, cut by the window's end
    return roll


def test_figures_of_a_hand_made_roll():
    f = figures(hand_made())
    assert f["log_notes"] == pytest.approx(np.log(5))
    shares = [f[f"share_length_{low}"] for low in LENGTH_EDGES]
    assert shares == pytest.approx([1 / 5, 1 / 5, 0, 1 / 5, 0, 1 / 5, 0], abs=1e-6)  # lengths 1, 2, 4 and 12 of 4 notes, over 4 + 1
    assert [f[f"share_onsets_phase_{phase}"] for phase in range(4)] == pytest.approx([3 / 5, 0, 1 / 5, 0], abs=1e-6)
    assert f["share_onsets_downbeat"] == pytest.approx(1 / 5, abs=1e-6)  # the eighth on column 0; column 16 starts nothing
    registers = [f[f"share_onsets_from_pitch_{low}"] for low in REGISTER_EDGES]
    assert registers == pytest.approx([2 / 5, 0, 1 / 5, 0, 1 / 5], abs=1e-6)  # pitches 31, 31, 61 and 91
    # Notes start on columns 0, 4, 6 and 20; each column is heard through the threshold, where silence reads 5e-5.
    assert f["onset_columns_share"] == pytest.approx(4 / 32, abs=1e-4)
    assert f["rhythm_repetition_bar"] == pytest.approx(1 / np.sqrt(3), abs=1e-4)  # bar 1 starts notes on 0, 4 and 6, bar 2 on 4
    assert f["pitches_sounding"] == pytest.approx((2 + 4 + 1 + 12) / 32)
    assert f["polyphonicity"] == pytest.approx(1 / 18, abs=1e-5)  # of 18 sounding columns only column 6 sounds two pitches
    assert f["rhythm_repetition_two_bars"] == 0  # no two bars that far apart
    assert f["pitches_used"] == pytest.approx(3, abs=1e-4)
    assert f["pitch_classes_used"] == pytest.approx(2, abs=1e-4)  # G (rows 10 and 70) and C# (row 40)
    assert f["highest_row"] == pytest.approx(70, abs=1e-3)
    assert f["lowest_row"] == pytest.approx(10, abs=1e-3)
    assert f["silent_beats"] == pytest.approx(3 / 8, abs=1e-4)  # beats 3, 4 and 5 (columns 8-19)
    # Bar 1 sounds G (MIDI 31) for 6 columns and C# (61) for 1, bar 2 G (91) for 12: a cosine of 6 / sqrt(37).
    assert f["bar_chroma_similarity"] == pytest.approx(6 / np.sqrt(37), abs=1e-4)
    assert f["two_bar_chroma_similarity"] == 0  # no two bars that far apart
    assert f["out_of_key_share"] == pytest.approx(metrics.out_of_key_share(hand_made()), abs=1e-3)
    assert f["onset_periodicity_bar"] == pytest.approx(metrics.onset_periodicity(hand_made(), COLUMNS_PER_BAR), abs=1e-4)


def test_the_top_voice_figures_follow_the_melody_over_held_chords():
    roll = np.zeros((106, 32), bool)
    roll[[30, 34], :] = True  # a held chord below
    for row, start, end in ((50, 0, 4), (52, 4, 8), (54, 8, 12), (57, 12, 16), (50, 16, 32)):
        roll[row, start:end] = True  # a melody on top: up by 2, 2 and 3 semitones, then down 7
    f = figures(roll)
    assert f["top_voice_row"] == pytest.approx((4 * 50 + 4 * 52 + 4 * 54 + 4 * 57 + 16 * 50) / (32 + 1), abs=1e-3)
    assert f["top_voice_step_share"] == pytest.approx(2 / (4 + 1), abs=1e-4)  # two steps of four moves
    assert f["top_voice_skip_share"] == pytest.approx(2 / (4 + 1), abs=1e-4)
    assert f["top_voice_mean_interval"] == pytest.approx((2 + 2 + 3 + 7) / (4 + 1), abs=1e-3)
    assert metrics.top_voice_stepwise_share(roll) == pytest.approx(0.5)  # the evaluation's reading, without the loss's + 1
    assert metrics.mean_top_voice_interval(roll) == pytest.approx(14 / 4)


def test_the_top_voice_moves_from_note_to_note_across_chord_tones_and_rests():
    """A melody note ending over a chord tone begun beneath it does not move down to that
    tone, and a rest does not hide the move across it: the figures follow the notes that
    start on top, as the evaluation does, not the highest pixel from column to column."""
    roll = np.zeros((106, 48), bool)
    roll[40, 0:16] = True  # a chord tone held under the melody, and heard alone in columns 4-7
    roll[60, 0:4] = True
    roll[62, 8:12] = True  # a step up from row 60, the chord tone between
    roll[69, 20:24] = True  # a skip of 7 up, across a rest
    roll[68, 24:28] = True  # a step down
    f = figures(roll)
    assert f["top_voice_step_share"] == pytest.approx(2 / (3 + 1), abs=1e-4)
    assert f["top_voice_skip_share"] == pytest.approx(1 / (3 + 1), abs=1e-4)
    assert f["top_voice_mean_interval"] == pytest.approx((2 + 7 + 1) / (3 + 1), abs=1e-3)
    assert metrics.top_voice_stepwise_share(roll) == pytest.approx(2 / 3)
    assert metrics.mean_top_voice_interval(roll) == pytest.approx(10 / 3)


def test_the_top_voice_figures_are_the_evaluations_on_busy_rolls():
    """Random notes of one to eight columns, several at once: the figures differ from the
    evaluation's only by the + 1 in their denominators and the moves more than a bar apart
    they leave out, which such dense rolls do not have."""
    rng = np.random.default_rng(6)
    roll = np.zeros((106, 300), bool)
    for _ in range(400):
        row, start = rng.integers(20, 80), rng.integers(300)
        roll[row, start : start + rng.integers(1, 9)] = True
    f = figures(roll)
    top, starts = metrics.top_voice(roll)
    moves = int(starts.sum()) - 1
    intervals = np.abs(np.diff(top[starts]))
    changing = int(np.count_nonzero(intervals))
    assert f["top_voice_step_share"] == pytest.approx(metrics.top_voice_stepwise_share(roll) * changing / (changing + 1), abs=1e-3)
    assert f["top_voice_mean_interval"] == pytest.approx(metrics.mean_top_voice_interval(roll) * moves / (moves + 1), abs=1e-2)


def test_the_harmony_figures_are_the_evaluations_pitch_class_repetition_where_no_bar_is_empty():
    roll = np.random.default_rng(2).random((106, 300)) < 0.03
    f = figures(roll)
    assert f["bar_chroma_similarity"] == pytest.approx(metrics.pitch_class_repetition(roll, 1), abs=1e-4)
    assert f["two_bar_chroma_similarity"] == pytest.approx(metrics.pitch_class_repetition(roll, 2), abs=1e-4)


def test_the_key_figure_is_the_evaluations_out_of_key_share():
    """Notes drawn from a key's profile on its scale, with a few chromatic ones, each a
    sixteenth: the figure reads the key as the evaluation does and counts each note once,
    not by its length."""
    rng = np.random.default_rng(5)
    for key, chromatic in ((0, 0.0), (7, 0.1), (21, 0.2), (14, 0.3)):
        scale = keys.scale_mask(key)
        weights = np.roll(keys.PROFILES["albrecht"][key // 12], key % 12) * scale
        roll = np.zeros((106, 300), bool)
        for start in range(0, 300, 4):
            pitch_class = rng.integers(12) if rng.random() < chromatic else rng.choice(12, p=weights / weights.sum())
            row = 36 + (pitch_class - 57) % 12 + 12 * rng.integers(2)  # between A3 and A5
            roll[row, start : start + (4 if scale[pitch_class] else 1)] = True
        assert figures(roll)["out_of_key_share"] == pytest.approx(metrics.out_of_key_share(roll), abs=1e-3), key
        assert chromatic == 0 or metrics.out_of_key_share(roll) > 0.05  # chromatic notes there are


@pytest.mark.parametrize("density", [0.005, 0.02, 0.05])
def test_the_pitch_figures_are_the_evaluations_largest_gap_pitch_class_histogram_and_entropy(density):
    roll = np.random.default_rng(7).random((106, 300)) < density
    roll[:, 1:] |= roll[:, :-1]  # notes of two columns, so each is counted once however long
    f = figures(roll)
    assert f["largest_pitch_gap"] == pytest.approx(metrics.largest_pitch_gap(roll), abs=1e-3)
    assert f["pitch_class_entropy"] == pytest.approx(metrics.pitch_class_entropy(roll), abs=1e-4)
    shares = [f[f"share_notes_pitch_class_{name}"] for name in PITCH_CLASS_NAMES]
    assert shares == pytest.approx(metrics.pitch_class_histogram(roll).tolist(), abs=1e-5)


def test_a_stray_note_far_above_the_texture_opens_the_largest_gap_by_as_much_as_it_is_heard():
    roll = np.zeros((106, 300), np.float32)
    roll[[40, 42, 47], :16] = 1.0  # a chord: gaps of 2 and 5
    assert figures(roll)["largest_pitch_gap"] == pytest.approx(5, abs=1e-3)
    assert figures(roll)["pitch_class_entropy"] == pytest.approx(np.log2(3), abs=1e-4)
    stray = roll.copy()
    stray[85, 100] = 1.0  # 38 semitones above the chord's top
    assert figures(stray)["largest_pitch_gap"] == pytest.approx(38, abs=1e-3) == metrics.largest_pitch_gap(stray > 0)
    stray[85, 100] = 0.5  # as likely there as not: gaps of 5 to 38 count half
    assert figures(stray)["largest_pitch_gap"] == pytest.approx(5 + 33 / 2, abs=1e-3)
    assert figures(np.zeros((106, 300), np.float32))["largest_pitch_gap"] == 0  # no pitches, no gap


def test_a_cluster_in_the_last_bar_is_read_by_the_edge_figures_alone():
    """A chord of three held through the window, and a cluster of nine more pitches over its
    last 28 columns (the last whole bar and the partial one after it)."""
    roll = np.zeros((106, 300), np.float32)
    roll[[39, 43, 46], :] = 1.0
    plain = figures(roll)
    assert plain["pitches_sounding_first_bar"] == pytest.approx(3) and plain["pitches_sounding_last_bar"] == pytest.approx(3)
    roll[50:59, 272:] = 1.0
    clustered = figures(roll)
    assert clustered["pitches_sounding_first_bar"] == pytest.approx(3)
    assert clustered["pitches_sounding_last_bar"] == pytest.approx(12)


def test_the_rhythm_figures_are_the_evaluations_downbeat_clarity_and_rhythm_repetition():
    roll = np.random.default_rng(3).random((106, 300)) < 0.01
    roll[:, ::16] |= np.random.default_rng(4).random((106, 19)) < 0.1  # more notes on the bar lines
    f = figures(roll)
    notes = int(metrics.onsets(roll).sum())
    bar_lines = len(range(0, 300, COLUMNS_PER_BAR))
    assert f["share_onsets_downbeat"] * (notes + 1) / notes * 300 / bar_lines == pytest.approx(metrics.downbeat_clarity(roll), rel=1e-4)
    assert f["rhythm_repetition_bar"] == pytest.approx(metrics.rhythm_repetition(roll, 1), abs=1e-4)
    assert f["rhythm_repetition_two_bars"] == pytest.approx(metrics.rhythm_repetition(roll, 2), abs=1e-4)
    assert f["polyphonicity"] == pytest.approx(metrics.polyphonicity(roll), abs=1e-4)
    assert f["onset_columns_share"] == pytest.approx(metrics.onsets(roll).any(axis=0).mean(), abs=1e-4)
    in_some_band = sum(f[f"share_onsets_from_pitch_{low}"] for low in REGISTER_EDGES) * (notes + 1) / notes
    assert in_some_band == pytest.approx(1.0, abs=1e-4)  # the bands cover all 106 rows


def test_the_bass_figure_finds_the_chord_roots_as_the_evaluation_does():
    roll = np.zeros((106, 64), bool)
    bars = (((60, 64, 67), 48), ((57, 60, 64), 48), ((55, 59, 62), 43), ((53, 57, 60), 45))  # C over C, Am over C, G over G, F over A
    for bar, (chord, bass) in enumerate(bars):
        start = bar * COLUMNS_PER_BAR
        roll[[pitch - 21 for pitch in chord], start : start + COLUMNS_PER_BAR] = True
        roll[bass - 21, start : start + 4] = True
    assert metrics.bass_on_chord_root(roll) == 0.5
    assert figures(roll)["bass_on_chord_root"] == pytest.approx(0.5, abs=0.01)


def test_drones_and_stray_notes_are_counted_as_the_evaluation_counts_them():
    roll = np.pad(hand_made(), ((0, 0), (0, 268)))  # its sixteenth on row 40 is a stray note
    roll[60, 100] = True  # another, alone
    roll[90, 0:70] = True  # held 70 columns: a drone
    roll[20, 200:264] = True  # held exactly four bars: a drone
    roll[21, 236:300] = True  # held four bars up to the window's end: a drone
    f = figures(roll)
    assert f["drone_notes"] == pytest.approx(3, abs=1e-4) and metrics.drone(roll) == 1
    assert f["isolated_share"] == pytest.approx(2 / (8 + 1), abs=1e-4)
    assert metrics.isolated_short_notes(roll) == pytest.approx(2 / 8)


def test_faint_pixels_neither_widen_the_register_nor_make_the_bars_alike():
    """A generated roll whose notes lie between rows 30 and 60, with a haze of pixels at 0.3
    (silent once thresholded) over four rows above them and four below: heard, its
    register, its pitches and its bars' rhythm are those of its notes, within what each
    faint row's loudest pixel adds (2% of a row). Read as the chance that any pixel of a
    row sounds, each faint row would count nearly whole: the highest row read 81, not 59."""
    from pianogan.models.texture import heard

    rng = np.random.default_rng(6)
    notes = np.zeros((106, 300), np.float32)
    for start in range(0, 300, 2):
        notes[rng.integers(30, 60), start : start + rng.integers(1, 4)] = 0.9
    probabilities = notes.copy()
    probabilities[[20, 22, 24, 26, 70, 72, 74, 76]] = np.maximum(probabilities[[20, 22, 24, 26, 70, 72, 74, 76]], 0.3)
    as_heard = dict(zip(FEATURES, np.asarray(texture_features(heard(probabilities[None])))[0]))
    thresholded = figures(probabilities >= 0.5)
    assert thresholded["highest_row"] == 59 and thresholded["lowest_row"] == 30
    for name, within in (("highest_row", 1.5), ("lowest_row", 1.0), ("pitches_used", 0.2), ("pitch_classes_used", 0.2)):
        assert as_heard[name] == pytest.approx(thresholded[name], abs=within), name
    for name in ("rhythm_repetition_bar", "rhythm_repetition_two_bars", "onset_columns_share"):
        assert as_heard[name] == pytest.approx(thresholded[name], abs=0.01), name


def test_counts_are_the_expectation_over_drawn_pixels():
    rng = np.random.default_rng(0)
    p = rng.uniform(0.0, 1.0, (1, 3, 24)).astype(np.float32) ** 0.5  # long notes as well as short ones
    expected = np.asarray(note_length_counts(p))[0]
    draws = rng.random((20000, 3, 24)) < p
    counted = np.asarray(note_length_counts(draws.astype(np.float32))).mean(axis=0)
    assert counted == pytest.approx(expected, abs=0.03)
    assert expected.sum() == pytest.approx(float(np.sum(p * (1 - np.pad(p, ((0, 0), (0, 0), (1, 0)))[..., :-1]))), rel=1e-5)


def test_the_loss_reads_the_heard_roll_is_zero_at_the_data_and_pulls_towards_it():
    import keras

    rng = np.random.default_rng(1)
    real = np.stack([hand_made() if i % 2 else rng.random((106, 32)) < 0.05 for i in range(8)]).astype(np.float32)
    target = texture_target(texture_figures(real))
    assert float(texture_loss(heard_figures(real[..., None]), target)) == pytest.approx(0.0, abs=1e-3)
    # Faint pixels are silence once thresholded, however many notes their expectations add up to.
    assert float(texture_loss(heard_figures(real[..., None] * 0.9 + 0.05), target)) == pytest.approx(0.0, abs=1e-2)
    # Two voices that each hold half of every note are heard as their OR.
    half = real * (rng.random(real.shape) < 0.5)
    voiced = np.stack([np.zeros_like(real), half, real - half], axis=-1)  # the merged channel, here left empty, is remade
    assert float(texture_loss(heard_figures(voiced), target)) == pytest.approx(0.0, abs=1e-3)

    haze = keras.Variable(np.full((8, 106, 32, 1), 0.4, np.float32))
    assert float(texture_loss(heard_figures(haze), target)) > 1.0
    gradient = np.asarray(keras.ops.convert_to_numpy(_gradient(haze, lambda rolls: texture_loss(heard_figures(rolls), target))))
    assert np.isfinite(gradient).all() and np.abs(gradient).sum() > 0


def test_the_kernel_discrepancy_sees_figures_together_where_the_moments_see_each_alone():
    """Two sets of figures with the same marginals, one of them with every figure drawn
    apart from the others (a shuffle per column): the moments' gap cannot tell them
    apart; the kernel discrepancy can, and it is near zero between two draws of one set."""
    rng = np.random.default_rng(3)
    shared = rng.standard_normal((4000, 1))
    joint = np.concatenate([shared + 0.3 * rng.standard_normal((4000, 1)) for _ in FEATURES], axis=1).astype(np.float32)
    apart = np.stack([rng.permutation(column) for column in joint.T], axis=1)
    bank, same, shuffled = joint[:2000], joint[2000:], apart[2000:]
    target = texture_target(bank)
    real_mean = real_kernel_mean(bank, target)

    moments = [float(texture_loss(figures, target)) for figures in (same, shuffled)]
    kernel = [float(texture_kernel_loss(figures, target, real_mean)) for figures in (same, shuffled)]
    assert max(moments) < 0.01  # both match every figure's mean and spread
    assert kernel[0] < 0.01 and kernel[1] > 20 * kernel[0]


def test_the_marginal_discrepancy_sees_two_modes_where_the_moments_see_the_data():
    """A batch whose figures each sit on two modes, with the data's mean and spread (as a
    generator trained without it put its lowest pitch on F2 or G1, where the data's windows
    spread between):
    the moments' gap cannot tell it from the data, the one-by-one discrepancy can, and it
    is near zero between two draws of the data; its gradient pushes the modes together."""
    import keras

    rng = np.random.default_rng(5)
    bank, same = (rng.standard_normal((2000, len(FEATURES))).astype(np.float32) for _ in range(2))
    two_modes = np.where(rng.random(same.shape) < 0.5, -1.0, 1.0).astype(np.float32)
    target = texture_target(bank)
    real_mean = real_marginal_mean(bank, target)

    moments = [float(texture_loss(figures, target)) for figures in (same, two_modes)]
    marginal = [float(texture_marginal_loss(figures, target, real_mean)) for figures in (same, two_modes)]
    assert max(moments) < 0.01
    assert marginal[0] < 0.002 and marginal[1] > 20 * marginal[0]

    figures = keras.Variable(two_modes[:64])
    gradient = np.asarray(keras.ops.convert_to_numpy(_gradient(figures, lambda f: texture_marginal_loss(f, target, real_mean))))
    values = two_modes[:64]
    # descending the gradient moves the figures of both modes towards the data's middle
    assert (-gradient[values > 0] < 0).mean() > 0.9 and (-gradient[values < 0] > 0).mean() > 0.9


def test_the_kernel_discrepancy_pulls_generated_figures_towards_the_data():
    import keras

    rng = np.random.default_rng(4)
    real = np.stack([hand_made() if i % 2 else rng.random((106, 32)) < 0.05 for i in range(16)]).astype(np.float32)
    figures = texture_figures(real)
    target = texture_target(figures)
    real_mean = real_kernel_mean(figures, target)
    assert float(texture_kernel_loss(figures, target, real_mean)) == pytest.approx(0.0, abs=1e-5)  # the batch is the data
    haze = keras.Variable(np.full((8, 106, 32, 1), 0.4, np.float32))
    assert float(texture_kernel_loss(heard_figures(haze), target, real_mean)) > 0.1
    gradient = np.asarray(keras.ops.convert_to_numpy(_gradient(haze, lambda rolls: texture_kernel_loss(heard_figures(rolls), target, real_mean))))
    assert np.isfinite(gradient).all() and np.abs(gradient).sum() > 0


def _gradient(variable, loss_of):
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            loss = loss_of(variable)
        return tape.gradient(loss, variable.value)
    pytest.skip(f"the gradient check is written for TensorFlow, not {backend}")


def test_compiled_by_xla_the_figures_and_their_gradient_are_the_plain_ones():
    """The TensorFlow step reads the figures through XLA (``GAN.compile_figures``): fused,
    they must still be these figures, and pull G the same way."""
    tf = pytest.importorskip("tensorflow")
    rng = np.random.default_rng(2)
    # A generator's output, mostly near silence, with notes near and beyond the threshold,
    # none so sure that two pixels of a row are heard alike to the last bit: there a row's
    # loudest pixel is a tie, and a gradient of the maximum may go to either.
    probabilities = tf.constant((0.9 * rng.random((4, 106, 300, 1)) ** 8).astype(np.float32))

    def figures_and_gradient(read):
        with tf.GradientTape() as tape:
            tape.watch(probabilities)
            figures = read(probabilities)
            pull = tf.reduce_sum(figures * tf.range(1.0, len(FEATURES) + 1.0))
        return figures.numpy(), tape.gradient(pull, probabilities).numpy()

    plain, plain_gradient = figures_and_gradient(heard_figures)
    fused, fused_gradient = figures_and_gradient(tf.function(heard_figures, jit_compile=True))
    np.testing.assert_allclose(fused, plain, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(fused_gradient, plain_gradient, rtol=1e-3, atol=1e-4 * np.abs(plain_gradient).max())
    assert np.abs(plain_gradient).max() > 0

"""Architectures: shapes, FLOP counts against hand counts, safe-mode loading."""

from __future__ import annotations

import subprocess
import sys

import keras
import numpy as np
import pytest

from pianogan.cli import main
from pianogan.models import architectures


def conv_flops(k_h, k_w, c_in, c_out, h_out, w_out):
    return 2 * k_h * k_w * c_in * c_out * h_out * w_out


def test_seed_generator_flops_match_a_hand_count():
    dense = 2 * 14 * (14 * 40 * 128)
    conv_14x40 = conv_flops(5, 5, 128, 256, 14, 40)
    # Transposed convolutions: every input pixel meets the whole kernel.
    transposed = sum(conv_flops(4, 4, 256, 256, 14 * 2**i, 40 * 2**i) for i in range(3))
    conv_512 = conv_flops(5, 5, 256, 512, 112, 320) + conv_flops(5, 5, 512, 512, 112, 320)
    output = conv_flops(7, 21, 512, 1, 106, 300)
    generator, _ = architectures.build("seed")
    assert architectures.count_flops(generator) == dense + conv_14x40 + transposed + conv_512 + output
    assert round(architectures.count_flops(generator) / 1e9) == 735  # docs/design.md's figure
    assert generator.count_params() == 14_947_841


def test_seed_discriminator_flops_and_parameters():
    sizes = [(104, 298), (51, 148), (24, 73), (11, 35), (4, 16)]
    expected = conv_flops(3, 3, 1, 256, *sizes[0]) + sum(conv_flops(4, 4, 256, 256, *s) for s in sizes[1:]) + 2 * 4 * 16 * 256
    _, discriminator = architectures.build("seed")
    assert architectures.count_flops(discriminator) == expected
    assert discriminator.count_params() == 4_214_273


def test_default_generator_flops_match_a_hand_count_and_budget():
    w = 256
    expected = (
        2 * 14 * 75 * w  # projection to 75 beat frames
        + 2 * conv_flops(1, 3, w, w, 1, 75)
        + conv_flops(1, 3, w, 192, 1, 150)
        + conv_flops(1, 3, 192, 192, 1, 150)
        + conv_flops(1, 3, 192, 128, 1, 300)
        + conv_flops(1, 3, 128, 128, 1, 300)
        + 2 * 128 * 106 * 300  # every frame's pitches
        + 2 * 14 * 64
        + 2 * 64 * 12  # key path
    )
    generator, discriminator = architectures.build("default")
    assert architectures.count_flops(generator) == expected
    assert architectures.count_flops(generator) <= 1e9
    assert architectures.count_flops(discriminator) < architectures.count_flops(generator)


@pytest.mark.parametrize("arch", ["default", "bars", "bars-melody", "bars-lead", "seed"])
def test_shapes(arch):
    generator, discriminator = architectures.build(arch, latent_dim=14)
    assert tuple(generator.input.shape) == (None, 14)
    assert tuple(generator.output.shape) == (None, 106, 300, 1)
    assert tuple(discriminator.input.shape) == (None, 106, 300, 1)
    assert tuple(discriminator.output.shape) == (None, 1)


def test_default_generator_outputs_probabilities_and_starts_sparse():
    generator, discriminator = architectures.build("default", latent_dim=5)
    z = np.random.default_rng(0).standard_normal((4, 5)).astype("float32")
    rolls = np.asarray(generator(z))
    assert rolls.shape == (4, 106, 300, 1)
    assert rolls.min() >= 0 and rolls.max() <= 1
    assert rolls.mean() < 0.1  # initial output near the 3% density of real rolls
    assert np.asarray(discriminator(rolls)).shape == (4, 1)


def test_key_bias_adds_one_bias_per_pitch_class():
    layer = architectures.KeyBias()
    frames = np.zeros((1, 2, 106), dtype="float32")
    pitch_classes = np.arange(12, dtype="float32")[None]
    out = np.asarray(layer([frames, pitch_classes]))
    # Row 0 is A0 (pitch class 9), row 3 is C1 (pitch class 0), row 15 is C2.
    assert out[0, 0, 0] == 9 and out[0, 1, 3] == 0 and out[0, 0, 15] == 0 and out[0, 0, 4] == 1


def test_roll_views_onsets_and_chroma():
    roll = np.zeros((1, 106, 6, 1), dtype="float32")
    roll[0, 39, 1:4, 0] = 1  # C4 held for three columns
    roll[0, 51, 2, 0] = 1  # C5 for one column
    views = np.asarray(architectures.RollViews()(roll))
    assert views.shape == (1, 6, 224)
    assert views[0, :, 39].tolist() == [0, 1, 1, 1, 0, 0]
    assert views[0, :, 106 + 39].tolist() == [0, 1, 0, 0, 0, 0]  # onset only at the start
    assert views[0, :, 212 + 0].tolist() == [0, 1, 1, 1, 0, 0]  # chroma C, octaves merged, capped at 1


@pytest.mark.slow
def test_saved_generator_loads_in_safe_mode_in_a_fresh_process(tmp_path):
    """Importing pianogan.models.architectures registers its layers; the file itself carries no code."""
    generator, _ = architectures.build("default")
    path = tmp_path / "generator.keras"
    generator.save(path)
    z = np.random.default_rng(1).standard_normal((2, 14)).astype("float32")
    np.save(tmp_path / "z.npy", z)
    np.save(tmp_path / "expected.npy", np.asarray(generator(z)))
    script = (
        "import keras, numpy as np, pianogan.models.architectures;"
        f"m = keras.models.load_model({str(path)!r}, safe_mode=True, compile=False);"
        f"out = np.asarray(m(np.load({str(tmp_path / 'z.npy')!r})));"
        f"assert np.allclose(out, np.load({str(tmp_path / 'expected.npy')!r}), atol=1e-6);"
        "print('ok')"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == "ok", result.stderr[-2000:]


def test_no_lambda_layers_so_nothing_runs_from_the_file():
    generator, discriminator = architectures.build("default")
    for model in (generator, discriminator):
        assert not any(isinstance(layer, keras.layers.Lambda) for layer in model.layers)


def test_info_prints_the_generator_gflop_line(capsys):
    assert main(["info", "default"]) == 0
    lines = capsys.readouterr().out.splitlines()
    gflop = [line for line in lines if line.startswith("GFLOP per image: ")]
    assert len(gflop) == 1
    assert float(gflop[0].split(": ")[1]) == pytest.approx(architectures.count_flops(architectures.build("default")[0]) / 1e9, abs=1e-3)


def test_recalibrated_generator_in_inference_mode_matches_its_batch_statistics():
    generator, _ = architectures.build("default")
    z = np.random.default_rng(2).standard_normal((64, 14)).astype("float32")
    training_mode = np.asarray(generator(z, training=True))  # normalised with this batch's statistics
    before = np.asarray(generator(z, training=False))
    architectures.recalibrate_batch_norm(generator, z)
    after = np.asarray(generator(z, training=False))
    assert np.abs(after - training_mode).max() < 1e-4
    assert np.abs(before - training_mode).max() > 1e-2  # the initial statistics (0, 1) were wrong


def test_bars_generator_is_silent_above_the_piano_and_costs_what_default_does():
    generator, discriminator = architectures.build("bars")
    z = np.random.default_rng(3).standard_normal((8, 14)).astype("float32")
    rolls = np.asarray(generator(z))
    assert rolls.shape == (8, 106, 300, 1) and rolls.mean() < 0.1
    assert rolls[:, 88:].max() == 0.0 and rolls[:, :88].min() > 0.0  # rows 88..105 exactly silent
    default_flops = architectures.count_flops(architectures.build("default")[0])
    assert architectures.count_flops(generator) <= 1e9 and architectures.count_flops(generator) <= 1.1 * default_flops
    assert np.asarray(discriminator(rolls)).shape == (8, 1)


def test_positions_mark_the_phase_within_a_period():
    out = np.asarray(architectures.Positions(4)(np.zeros((2, 10, 3), dtype="float32")))
    assert out.shape == (2, 10, 7)
    assert out[1, :, 3:].argmax(axis=1).tolist() == [0, 1, 2, 3, 0, 1, 2, 3, 0, 1]


def test_bar_harmony_bias_acts_within_its_own_bar():
    frames = np.zeros((1, 40, 106), dtype="float32")
    per_bar = np.zeros((1, 3, 12), dtype="float32")
    per_bar[0, 1, 0] = 5.0  # C in bar 1 only
    out = np.asarray(architectures.BarHarmonyBias(bar=16)([frames, per_bar]))
    c_rows = [r for r in range(106) if (21 + r) % 12 == 0]
    assert (out[0, 16:32][:, c_rows] == 5).all() and not out[0, :16].any() and not out[0, 32:].any()
    assert not np.delete(out[0, 16:32], c_rows, axis=1).any()


def test_the_lead_line_sounds_one_pitch_or_none_and_only_in_its_register():
    low, high = architectures.LEAD_ROWS
    logits = np.zeros((1, 4, 106), dtype="float32")
    rest = np.zeros((1, 4, 1), dtype="float32")
    logits[0, 0, low + 5] = 8.0  # column 0: one pitch stands out
    logits[0, 1, [low + 5, low + 7]] = 8.0  # column 1: two pitches tie, a chord a sigmoid head would sound
    logits[0, 2, low - 1] = 20.0  # column 2: a pitch below the register
    rest[0, 3] = 8.0  # column 3: the rest stands out
    lead = np.asarray(architectures.LeadLine(low, high)([logits, rest]))
    sounding = lead >= 0.5
    assert sounding[0, 0].nonzero()[0].tolist() == [low + 5]
    assert not sounding[0, 1:].any()  # the tie, the pitch outside the register and the rest sound nothing
    assert lead[0, 1, low + 5] == pytest.approx(lead[0, 1, low + 7]) and lead[0, 1].sum() < 1.0
    assert not lead[..., :low].any() and not lead[..., high:].any()


def test_the_lead_generator_writes_a_line_over_the_accompaniment():
    generator, _ = architectures.build("bars-lead")
    z = np.random.default_rng(4).standard_normal((4, 14)).astype("float32")
    rolls = np.asarray(generator(z))
    lead = np.asarray(keras.Model(generator.input, generator.get_layer("lead_line").output)(z))
    assert rolls.shape == (4, 106, 300, 1) and rolls[:, 88:].max() == 0.0
    assert np.all(rolls[..., 0] >= np.transpose(lead, (0, 2, 1)) - 1e-6)  # the roll holds the lead
    assert lead.sum(axis=-1).max() <= 1.0 and 0.3 < lead.sum(axis=-1).mean() < 0.7  # a rest about half the time at first


def test_bar_views_give_each_bars_chroma_and_onsets_folded_onto_the_bar():
    roll = np.zeros((1, 106, 40, 1), dtype="float32")
    roll[0, 60 - 21, 0:8, 0] = 1  # C4, first half of bar 0
    roll[0, 67 - 21, 20:21, 0] = 1  # G4 at position 4 of bar 1
    roll[0, 67 - 21, 36:37, 0] = 1  # and of bar 2
    chroma, folded = (np.asarray(v) for v in architectures.BarViews(bar=16)(roll))
    assert chroma.shape == (1, 3, 12) and folded.shape == (1, 16, 106)
    assert chroma[0, 0, 0] == 0.5 and chroma[0, 1, 7] == 1 / 16 and chroma[0, 0, 7] == 0
    assert folded[0, 0, 60 - 21] == pytest.approx(1 / 3) and folded[0, 4, 67 - 21] == pytest.approx(2 / 3)
    assert folded.sum() == pytest.approx(1.0)


def test_minibatch_std_appends_the_batch_spread():
    features = np.array([[0.0, 2.0], [2.0, 2.0]], dtype="float32")
    out = np.asarray(architectures.MinibatchStd()(features))
    assert out.shape == (2, 3) and np.allclose(out[:, 2], 0.5, atol=1e-4)  # std 1 and 0, mean 0.5


def test_minibatch_std_has_a_finite_gradient_where_the_batch_agrees():
    import tensorflow as tf

    features = tf.Variable(np.ones((4, 3), dtype="float32"))
    with tf.GradientTape() as tape:
        spread = architectures.MinibatchStd()(features)[0, 3]
    assert np.isfinite(tape.gradient(spread, features).numpy()).all()


def test_melody_views_count_the_top_voices_moves_and_the_register():
    roll = np.zeros((1, 106, 16, 1), dtype="float32")
    roll[0, 48 - 21, 0:16, 0] = 1  # a C3 held below the melody: never the top voice
    roll[0, 60 - 21, 0:4, 0] = 1  # C4, then up a step to D4, a fourth to G4 and an octave and more to A#5
    roll[0, 62 - 21, 4:8, 0] = 1
    roll[0, 67 - 21, 8:12, 0] = 1
    roll[0, 82 - 21, 12:16, 0] = 1
    intervals, register = (np.asarray(v)[0] for v in architectures.MelodyViews(span=12)(roll))
    assert intervals.shape == (25,) and register.shape == (106,)
    assert intervals[12 + 2] == intervals[12 + 5] == intervals[24] == pytest.approx(1 / 4)  # 3 moves, + 1 in the denominator
    assert intervals.sum() == pytest.approx(3 / 4)  # no move counted from the held bass
    assert register[48 - 21] == 1 and register[60 - 21] == register[82 - 21] == 0.25 and register.sum() == 2


def test_melody_views_pass_the_gradient_to_every_sounding_note():
    import tensorflow as tf

    roll = tf.Variable(np.zeros((1, 106, 8, 1), dtype="float32"))
    values = np.zeros((1, 106, 8, 1), dtype="float32")
    values[0, 60 - 21, 0:4, 0] = values[0, 62 - 21, 4:8, 0] = 1
    roll.assign(values)
    with tf.GradientTape() as tape:
        intervals, _ = architectures.MelodyViews(span=12)(roll)
        step_share = intervals[0, 12 + 2]
    gradient = tape.gradient(step_share, roll).numpy()[0, :, :, 0]
    assert gradient[62 - 21, 4] != 0 and gradient[60 - 21, 3] != 0  # the move's two ends


def test_the_training_options_offer_every_registered_architecture_loss_and_recipe():
    from pianogan.models.losses import LOSSES
    from pianogan.training.choices import CHOICES
    from pianogan.training.config import RECIPES

    assert CHOICES["arch"] == tuple(architectures.ARCHITECTURES)
    assert CHOICES["loss"] == LOSSES and CHOICES["recipe"] == tuple(RECIPES)


def test_stochastic_binary_draws_each_pixel_with_its_probability_and_keeps_real_rolls():
    import keras

    layer = architectures.StochasticBinary(seed=3)
    probabilities = np.full((64, 106, 300, 1), 0.3, dtype="float32")
    drawn = np.asarray(layer(probabilities, training=True))
    assert set(np.unique(drawn)) == {0.0, 1.0} and abs(drawn.mean() - 0.3) < 0.01
    assert not np.array_equal(drawn, np.asarray(layer(probabilities, training=True)))  # drawn anew each call
    real = (np.random.default_rng(0).random((2, 106, 300, 1)) < 0.03).astype("float32")
    assert np.array_equal(np.asarray(layer(real, training=True)), real)
    assert np.asarray(layer(probabilities, training=False)).max() == 0.0  # the 0.5 threshold outside training
    x = keras.Variable(probabilities[:1])
    gradient = _gradient(lambda: keras.ops.sum(layer(x.value, training=True) * 2.0), x)
    assert np.allclose(gradient, 2.0)  # straight through


def test_a_narrow_band_fixes_decided_pixels_and_draws_only_undecided_ones():
    layer = architectures.StochasticBinary(seed=5, band=0.2)
    levels = np.array([0.05, 0.29, 0.4, 0.5, 0.6, 0.71, 0.95], dtype="float32")
    probabilities = np.broadcast_to(levels, (64, 106, 300, 7)).reshape(64, 106, 2100, 1)
    sounding = np.asarray(layer(np.ascontiguousarray(probabilities), training=True)).reshape(64, 106, 300, 7).mean(axis=(0, 1, 2))
    # Thresholds are uniform on [0.3, 0.7]: P(p > threshold) = (p - 0.3) / 0.4 inside the band.
    assert np.allclose(sounding, [0, 0, 0.25, 0.5, 0.75, 1, 1], atol=0.01)
    assert architectures.StochasticBinary.from_config(layer.get_config()).band == 0.2


def _gradient(function, variable):
    """d function / d variable under the running backend (TensorFlow in the tests)."""
    import tensorflow as tf

    with tf.GradientTape() as tape:
        value = function()
    return np.asarray(tape.gradient(value, variable.value))


def test_a_stochastic_discriminator_draws_the_voices_then_merges_them():
    _, discriminator = architectures.build("bars-voices", draw_band=0.5)
    layer = discriminator.get_layer("stochastic_binary")
    probabilities = np.random.default_rng(1).random((4, 106, 300, 4)).astype("float32")
    drawn = np.asarray(layer(probabilities, training=True))
    assert np.array_equal(drawn[..., 0], drawn[..., 1:].max(axis=-1))
    assert architectures.count_flops(discriminator) == architectures.count_flops(architectures.build("bars-voices")[1])

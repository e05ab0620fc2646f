"""The NumPy export: every layer type against Keras, the shipped model's rolls, and the fallbacks."""

from __future__ import annotations

import shutil
import warnings

import numpy as np
import pytest
from test_generate import LATENT, quiet_save, save_tiny_generator

from pianogan import api
from pianogan.cli import main
from pianogan.compose import generate
from pianogan.errors import ModelError
from pianogan.models import portable, sampling
from pianogan.models.sampling import default_model_path


@pytest.fixture(scope="module")
def keras():
    from pianogan.models.modelio import import_keras

    return import_keras()


def run_both(model, inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The model's output from Keras and from the NumPy runner built from its graph."""
    weights = {layer.name: {w.name: np.asarray(w.numpy()) for w in layer.weights} for layer in model.layers if layer.weights}
    runner = portable.NumpyGenerator(portable.graph_of(model), weights, model.input_shape, model.output_shape)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        expected = np.asarray(model(inputs, training=False))
    return runner.forward(inputs), expected


def randomise(model, seed: int = 0):
    """Random weights everywhere, batch-norm statistics included, so no op is an identity."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        layer.set_weights(
            [
                rng.uniform(0.5, 1.5, w.shape).astype("float32") if "variance" in v.name else rng.normal(0, 0.3, w.shape).astype("float32")
                for w, v in zip(layer.get_weights(), layer.weights)
            ]
        )
    return model


def test_every_layer_type_computes_what_keras_computes(keras):
    from keras import layers

    from pianogan.models.architectures import KeyBias

    z = keras.Input((6,))
    x = layers.Reshape((8, 4))(layers.Dense(32, activation="tanh")(z))
    a = layers.Conv1D(5, 3, padding="same", dilation_rate=2, activation="relu")(x)
    b = layers.Conv1D(5, 2, padding="causal", use_bias=False)(x)
    c = layers.Conv1D(5, 3, strides=2, padding="same")(layers.UpSampling1D(2)(x))
    x = layers.Add()([a, b, c])
    x = layers.LeakyReLU(0.2)(layers.BatchNormalization(epsilon=1e-3)(x))
    x = layers.Concatenate()([x, layers.Conv1D(3, 1)(x)])
    image = layers.Reshape((8, 8, 1))(x)
    image = layers.Conv2DTranspose(3, 4, strides=2, padding="same", activation="sigmoid")(image)
    image = layers.Conv2D(2, (3, 5), strides=(1, 2), padding="same")(image)
    image = layers.Conv2DTranspose(2, 3, strides=2, padding="valid")(layers.UpSampling2D((1, 2))(image))
    image = layers.Conv2D(1, 3, padding="valid")(layers.Activation("relu")(image))
    frames = layers.Reshape((-1, 1))(layers.Flatten()(image))
    frames = layers.Permute((2, 1))(frames)
    keyed = KeyBias()([layers.Dense(106)(layers.Reshape((1, -1))(layers.Flatten()(frames))), layers.Dense(12)(z)])
    model = randomise(keras.Model(z, layers.Multiply()([keyed, layers.Dropout(0.5)(keyed)])))
    ours, expected = run_both(model, np.random.default_rng(1).standard_normal((3, 6)).astype("float32"))
    assert ours.shape == expected.shape
    np.testing.assert_allclose(ours, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("arch", ["bars", "bars-lead"])
def test_the_bars_generators_compute_what_keras_computes(arch):
    from pianogan.models import architectures

    generator = randomise(architectures.build(arch)[0], seed=2)
    ours, expected = run_both(generator, np.random.default_rng(3).standard_normal((4, 14)).astype("float32"))
    assert ours.shape == expected.shape == (4, 106, 300, 1)
    # Random weights through a dozen layers magnify float32 rounding (BLAS against oneDNN) to ~1e-4.
    np.testing.assert_allclose(ours, expected, rtol=1e-3, atol=2e-4)
    assert ours[:, 88:].max() == 0.0


def test_a_sequential_model_exports_and_runs_without_keras_calls(tmp_path):
    path = save_tiny_generator(tmp_path / "tiny.keras")
    (tmp_path / "link.keras").symlink_to(path)
    assert main(["export", str(tmp_path / "link.keras")]) == 0  # written beside the real file, the link left alone
    assert (tmp_path / "tiny.npz").is_file() and not (tmp_path / "link.npz").exists()
    runner = portable.load(path)
    assert runner is not None and runner.input_shape == (None, LATENT) and runner.output_shape == (None, 106, 300, 1)
    from pianogan.models.modelio import load_generator

    model = load_generator(path)
    latents = generate.anchors(3, 20, 1, LATENT)[:, 0]
    assert np.array_equal(sampling.probabilities(runner, latents) >= 0.5, sampling.probabilities(model, latents) >= 0.5)
    assert api.load_generator(path).runtime == "numpy" and api.load_generator(path, runtime="keras").runtime == "keras"


def test_an_export_of_another_version_of_the_model_is_ignored(tmp_path):
    path = save_tiny_generator(tmp_path / "g.keras", seed=1)
    portable.export(path)
    save_tiny_generator(tmp_path / "other.keras", seed=2)
    shutil.copy(tmp_path / "other.keras", path)  # the model is retrained; its old export stays beside it
    assert portable.load(path) is None
    assert api.load_generator(path).runtime == "keras"
    with pytest.raises(ModelError, match="no up-to-date NumPy export"):
        api.load_generator(path, runtime="numpy")


def test_a_layer_without_a_numpy_implementation_is_refused_by_name(keras, tmp_path):
    z = keras.Input((LATENT,))
    x = keras.layers.Dense(106 * 300)(z)
    x = keras.layers.LayerNormalization(name="odd_norm")(x)
    model = keras.Model(z, keras.layers.Reshape((106, 300, 1))(keras.layers.Activation("sigmoid")(x)))
    path = quiet_save(model, tmp_path / "odd.keras")
    with pytest.raises(portable.UnsupportedModel, match="layer 'odd_norm' of type LayerNormalization has no NumPy implementation"):
        portable.export(path)
    assert main(["export", str(path)]) == 2
    assert not (tmp_path / "odd.npz").exists()
    assert api.load_generator(path).runtime == "keras"  # it still runs, with Keras


def test_the_shipped_export_belongs_to_the_shipped_model():
    """Fails when models/generator.keras changes without `pianogan export` being run again."""
    runner = portable.load(default_model_path())
    assert runner is not None, "run `pianogan export models/generator.keras` and commit models/generator.npz"


def test_the_shipped_model_writes_the_same_rolls_with_numpy_and_keras():
    """400 pieces at three thresholds. A pixel may differ only where Keras puts it within
    1e-5 of the threshold (float32 sums in another order differ by up to ~3e-6); measured:
    a few such pixels in 1,200 rolls of 31,800 pixels."""
    from pianogan.models.modelio import load_generator

    runner = portable.load(default_model_path())
    model = load_generator(default_model_path())
    latents = np.concatenate([generate.anchors(seed, 4, 1, 14)[:, 0] for seed in range(100)])
    ours, theirs = sampling.probabilities(runner, latents), sampling.probabilities(model, latents)
    assert np.abs(ours - theirs).max() < 2e-5
    differing = 0
    for threshold in (0.3, 0.5, 0.7):
        differ = (ours >= threshold) != (theirs >= threshold)
        assert (np.abs(theirs[differ] - threshold) < 1e-5).all()
        differing += int(differ.sum())
    assert differing <= 4

"""Generator and discriminator architectures, backend-neutral (``keras.ops`` only).

Two families are registered in ``ARCHITECTURES``:

``default``
    Made for piano rolls and for a CPU. A roll is read as a sequence of 300 time frames
    with the 106 pitches as channels: 1-D convolutions run along time (notes are
    horizontal runs), and every frame's pitches are produced together by a dense layer
    (chords and octaves are vertical structure). A global *key path* maps the latent
    vector to 12 pitch-class biases that are added to every frame, so a window can stay in
    one key, which a plain convolutional generator fails to learn (DESIGN.md: 79% vs 98%
    in-scale note time). Upsampling is nearest-neighbour followed by convolution, which has
    no checkerboard. The discriminator sees three views of the roll: the roll itself, its
    onsets and its chroma (pitch classes), as BinaryMuseGAN's did.

``seed``
    The original project's layers, kept for comparison and for GPU users, with the
    output activation changed from tanh to sigmoid to match the {0, 1} data.

Both generators map a latent ``(N, latent_dim)`` to probabilities ``(N, 106, 300, 1)``;
both discriminators map a roll to one logit per example (the seed's final sigmoid lives
in its loss, which is numerically the same and more stable).
"""

from __future__ import annotations

from collections.abc import Callable

import keras
import numpy as np
from keras import layers, ops

from pianogan.roll import LOWEST_PITCH, N_PITCHES, WINDOW

LATENT_DIM = 14
PACKAGE = "pianogan"


def _pitch_class_matrix() -> np.ndarray:
    """(106, 12) one-hot: row r is the pitch class of MIDI pitch 21 + r."""
    matrix = np.zeros((N_PITCHES, 12), dtype="float32")
    matrix[np.arange(N_PITCHES), (LOWEST_PITCH + np.arange(N_PITCHES)) % 12] = 1.0
    return matrix


@keras.saving.register_keras_serializable(package=PACKAGE)
class KeyBias(layers.Layer):
    """Add per-window pitch-class biases (N, 12) to every frame's pitch logits (N, T, 106)."""

    def build(self, input_shape):
        self.tile = ops.convert_to_tensor(_pitch_class_matrix().T)  # (12, 106)

    def call(self, inputs):
        frame_logits, pitch_class_logits = inputs
        per_pitch = ops.matmul(pitch_class_logits, self.tile)  # (N, 106)
        return frame_logits + ops.expand_dims(per_pitch, 1)

    def compute_output_shape(self, input_shape):
        return input_shape[0]


@keras.saving.register_keras_serializable(package=PACKAGE)
class RollViews(layers.Layer):
    """Roll (N, 106, T, 1) -> time-major views (N, T, 106 + 106 + 12): roll, onsets, chroma.

    Onsets make note boundaries explicit (a held note and repeated strikes differ only
    there); chroma folds octaves together, so the discriminator can judge harmony and key.
    """

    def build(self, input_shape):
        self.fold = ops.convert_to_tensor(_pitch_class_matrix())  # (106, 12)

    def call(self, roll):
        frames = ops.transpose(ops.squeeze(roll, -1), (0, 2, 1))  # (N, T, 106)
        previous = ops.pad(frames[:, :-1, :], ((0, 0), (1, 0), (0, 0)))
        onsets = ops.relu(frames - previous)
        chroma = ops.minimum(ops.matmul(frames, self.fold), 1.0)
        return ops.concatenate([frames, onsets, chroma], axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2], 2 * N_PITCHES + 12)


def default_generator(latent_dim: int = LATENT_DIM, width: int = 256) -> keras.Model:
    """Latent -> (106, 300, 1) probabilities; about 0.3 GFLOP per image (see ``count_flops``)."""
    z = keras.Input((latent_dim,), name="latent")
    x = layers.Dense((WINDOW // 4) * width, name="project")(z)
    x = layers.Reshape((WINDOW // 4, width))(x)  # one frame per beat
    x = layers.LeakyReLU(0.2)(layers.BatchNormalization()(x))
    for stage, filters in enumerate((width, width * 3 // 4, width // 2)):
        if stage:  # beat -> eighth -> sixteenth resolution, without a checkerboard
            x = layers.UpSampling1D(2)(x)
        for dilation in (1, 2):  # dilation 2 widens the view along time cheaply
            x = layers.Conv1D(filters, 3, padding="same", dilation_rate=dilation, use_bias=False)(x)
            x = layers.LeakyReLU(0.2)(layers.BatchNormalization()(x))
    # Start sparse: about 3% of real pixels are lit, and logit(0.03) is about -3.5.
    frame_logits = layers.Dense(N_PITCHES, bias_initializer=keras.initializers.Constant(-3.5), name="pitches")(x)
    key = layers.Dense(64, activation="relu", name="key_hidden")(z)
    key = layers.Dense(12, name="key")(key)
    logits = KeyBias(name="key_bias")([frame_logits, key])
    probabilities = layers.Activation("sigmoid", dtype="float32")(logits)
    roll = layers.Permute((2, 1))(probabilities)
    roll = layers.Reshape((N_PITCHES, WINDOW, 1), name="roll")(roll)
    return keras.Model(z, roll, name="default_generator")


def default_discriminator(width: int = 256) -> keras.Model:
    """Roll (106, 300, 1) -> one logit; about 0.15 GFLOP per image."""
    roll = keras.Input((N_PITCHES, WINDOW, 1), name="roll")
    x = RollViews(name="views")(roll)
    whole_window_chroma = layers.GlobalAveragePooling1D()(x[:, :, 2 * N_PITCHES :])
    for _ in range(4):
        x = layers.Conv1D(width, 4, strides=2, padding="same")(x)
        x = layers.LeakyReLU(0.2)(x)
    x = layers.Flatten()(x)
    key = layers.Dense(64, name="key_hidden")(whole_window_chroma)
    x = layers.Concatenate()([x, layers.LeakyReLU(0.2)(key)])
    logit = layers.Dense(1, name="logit", dtype="float32")(x)
    return keras.Model(roll, logit, name="default_discriminator")


def seed_generator(latent_dim: int = LATENT_DIM) -> keras.Model:
    """The seed's generator, layer for layer, with a sigmoid output (~735 GFLOP per image)."""
    z = keras.Input((latent_dim,), name="latent")
    x = layers.LeakyReLU(0.3)(layers.Dense(14 * 40 * 128)(z))
    x = layers.Reshape((14, 40, 128))(x)
    x = layers.LeakyReLU(0.3)(layers.Conv2D(256, 5, padding="same")(x))
    for _ in range(3):
        x = layers.LeakyReLU(0.3)(layers.Conv2DTranspose(256, 4, strides=2, padding="same")(x))
    for _ in range(2):
        x = layers.LeakyReLU(0.3)(layers.Conv2D(512, 5, padding="same")(x))
    roll = layers.Conv2D(1, (7, 21), padding="valid", activation="sigmoid", dtype="float32", name="roll")(x)
    return keras.Model(z, roll, name="seed_generator")


def seed_discriminator() -> keras.Model:
    """The seed's discriminator, layer for layer (its final sigmoid is in the loss)."""
    roll = keras.Input((N_PITCHES, WINDOW, 1), name="roll")
    x = layers.LeakyReLU(0.3)(layers.Conv2D(256, 3, padding="valid")(roll))
    for _ in range(4):
        x = layers.LeakyReLU(0.3)(layers.Conv2D(256, 4, strides=2, padding="valid")(x))
    x = layers.Dropout(0.4)(layers.Flatten()(x))
    logit = layers.Dense(1, name="logit", dtype="float32")(x)
    return keras.Model(roll, logit, name="seed_discriminator")


ARCHITECTURES: dict[str, tuple[Callable[..., keras.Model], Callable[[], keras.Model]]] = {
    "default": (default_generator, default_discriminator),
    "seed": (seed_generator, seed_discriminator),
}


def build(arch: str, latent_dim: int = LATENT_DIM) -> tuple[keras.Model, keras.Model]:
    """Build the (generator, discriminator) pair of a registered architecture."""
    make_generator, make_discriminator = ARCHITECTURES[arch]
    return make_generator(latent_dim), make_discriminator()


def count_flops(model: keras.Model) -> int:
    """Forward FLOPs for one example, counted from the layer shapes.

    A multiply and an add are 2 FLOPs. Dense and convolution layers are counted exactly
    (biases, activations, normalisation and the fixed-matrix views are elementwise or
    tiny and left out), which is what dominates the cost of both architectures.
    """
    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            total += count_flops(layer)
            continue
        if isinstance(layer, layers.Dense):
            inputs = int(layer.kernel.shape[0])
            positions = int(np.prod(layer.output.shape[1:-1])) if len(layer.output.shape) > 2 else 1
            total += 2 * inputs * layer.units * positions
        elif isinstance(layer, layers.Conv2DTranspose):
            kernel = int(np.prod(layer.kernel.shape))  # kh * kw * out * in
            total += 2 * kernel * int(np.prod(layer.input.shape[1:-1]))
        elif isinstance(layer, (layers.Conv1D, layers.Conv2D)):
            kernel = int(np.prod(layer.kernel.shape))  # k... * in * out
            total += 2 * kernel * int(np.prod(layer.output.shape[1:-1]))
    return total


def recalibrate_batch_norm(generator: keras.Model, latents: np.ndarray) -> keras.Model:
    """Set every BatchNormalization's moving statistics to the batch statistics on ``latents``.

    The EMA generator averages weights but copies the live generator's normalisation
    statistics, which belong to other weights: sampled in inference mode, it then writes
    rolls that are too sparse and too high. Measuring the statistics of its own activations
    on a large batch of latents (as in "BN re-estimation" for weight averaging, Izmailov
    et al. 2018) fixes that. Changes ``generator`` in place and returns it.
    """
    norms = [layer for layer in generator.layers if isinstance(layer, layers.BatchNormalization)]
    if not norms:
        return generator
    probe = keras.Model(generator.input, [layer.input for layer in norms])
    activations = probe(ops.convert_to_tensor(latents), training=True)  # batch statistics throughout
    for layer, x in zip(norms, activations):
        axes = tuple(range(len(x.shape) - 1))
        layer.moving_mean.assign(ops.mean(x, axis=axes))
        layer.moving_variance.assign(ops.var(x, axis=axes))
    return generator

"""The GAN step under TensorFlow: gradient tapes, compiled into one graph by ``tf.function``.

The R1 penalty needs a gradient of D with respect to its input inside the outer tape
(double backpropagation). One device, one process: data parallelism runs under JAX
(see ``backends.jax`` and the README's "Scaling out").
"""

from __future__ import annotations

import contextlib

import numpy as np
import tensorflow as tf
from keras import ops

from pianogan.models.losses import discriminator_loss, generator_loss
from pianogan.training.backends import Placement, single_device_only


def start(placement: Placement, batch_size: int) -> None:
    single_device_only("tensorflow", placement, len(tf.config.list_logical_devices("GPU")))


def enable_determinism() -> None:
    """Make TensorFlow kernels deterministic so a resumed run equals an uninterrupted one."""
    tf.config.experimental.enable_op_determinism()


def make_step(gan):
    """``gan_step`` as one graph, traced at the first batch with every entry's first
    dimension left open, as ``fit()``'s dataset left it when it drove this step: the same
    graph, so the same figures as the runs trained before."""
    compiled = None

    def step(batch: dict[str, np.ndarray]) -> dict:
        nonlocal compiled
        if compiled is None:
            spec = {name: tf.TensorSpec((None, *value.shape[1:]), tf.as_dtype(value.dtype)) for name, value in batch.items()}
            compiled = tf.function(lambda data: gan_step(gan, data["real"], data["z"], data["noise"], data["augment"]), input_signature=[spec])
        return compiled(batch)

    return step


def local():
    return contextlib.nullcontext()


def agree(flag: bool) -> bool:
    return flag


def gan_step(gan, real, z, noise, augment):
    """One discriminator update, then one generator update; returns the logged figures.

    ``augment`` (2, B, 3) holds the moves for D's real and generated inputs (used when the
    GAN augments both sides; see ``gan.augment``).
    """
    real, z, noise = (tf.convert_to_tensor(x, tf.float32) for x in (real, z, noise))
    real_moves, fake_moves = augment[0], augment[1]
    real = gan.d_real(real, real_moves)
    generator, discriminator = gan.generator, gan.discriminator
    with tf.GradientTape() as d_tape:
        fake = gan.d_input(generator(z, training=True), fake_moves)
        if gan.r1_gamma > 0:
            with tf.GradientTape() as r1_tape:
                r1_tape.watch(real)
                real_logits = discriminator(real, training=True)
                summed = tf.reduce_sum(real_logits)
            input_gradient = r1_tape.gradient(summed, real)
            r1_penalty = tf.reduce_mean(tf.reduce_sum(tf.square(input_gradient), axis=[1, 2, 3]))
        else:
            real_logits = discriminator(real, training=True)
            r1_penalty = tf.constant(0.0)
        fake_logits = discriminator(tf.stop_gradient(fake), training=True)
        d_loss = discriminator_loss(gan.loss_kind, real_logits, fake_logits, noise)
        d_total = d_loss + 0.5 * gan.r1_gamma * r1_penalty
    d_weights = discriminator.trainable_variables
    gan.d_optimizer.apply(d_tape.gradient(d_total, d_weights), d_weights)

    with tf.GradientTape() as g_tape:
        probabilities = generator(z, training=True)
        g_logits = discriminator(gan.d_input(probabilities, fake_moves), training=True)
        g_loss = generator_loss(gan.loss_kind, g_logits)
    g_weights = generator.trainable_variables
    gan.g_optimizer.apply(g_tape.gradient(g_loss, g_weights), g_weights)

    gan.step_counter.assign_add(1)
    gan.update_ema()
    return {
        "d_loss": d_loss,
        "g_loss": g_loss,
        "r1": r1_penalty,
        "d_real": ops.mean(ops.sigmoid(real_logits)),
        "d_fake": ops.mean(ops.sigmoid(fake_logits)),
        "fake_lit": ops.mean(ops.cast(probabilities[..., :1] >= 0.5, "float32")),
        "real_lit": ops.mean(real[..., :1]),
    }

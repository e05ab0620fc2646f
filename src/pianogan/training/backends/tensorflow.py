"""One GAN training step's gradient code: the only backend-specific part of training.

Keras 3 leaves gradients to the backend (see keras.io's "Customizing what happens in
fit()" guides). TensorFlow is the supported training backend; the R1 penalty needs a
gradient of D with respect to its input inside the outer tape (double backpropagation).
"""

from __future__ import annotations

import keras
from keras import ops

from pianogan.errors import PianoganError
from pianogan.models.losses import discriminator_loss, generator_loss


def enable_determinism() -> None:
    """Make TensorFlow kernels deterministic so a resumed run equals an uninterrupted one."""
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()


def gan_step(gan, real, z, noise, augment):
    """One discriminator update, then one generator update; returns the logged figures.

    ``augment`` (2, B, 3) holds the moves for D's real and generated inputs (used when the
    GAN augments both sides; see ``gan.augment``).
    """
    if keras.backend.backend() != "tensorflow":
        raise PianoganError(f"training needs the tensorflow backend (KERAS_BACKEND={keras.backend.backend()})")
    import tensorflow as tf

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
        "fake_lit": ops.mean(ops.cast(probabilities >= 0.5, "float32")),
        "real_lit": ops.mean(real),
    }

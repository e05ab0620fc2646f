"""The GAN step under TensorFlow: gradient tapes, compiled into one graph by ``tf.function``.

The R1 penalty needs a gradient of D with respect to its input inside the outer tape
(double backpropagation).

Data parallelism on one machine comes from ``tf.distribute.MirroredStrategy``: the
variables are mirrored on every device and each replica takes an equal share of the
global batch. Three things make N replicas train like one device with the same batch:

- Batch statistics cover the whole batch. The generator's batch normalisation runs in
  Keras's ``synchronized`` mode (all-reduced sums) and the discriminator's minibatch
  deviation all-reduces its moments (``_batch_variance``). The gradient of an all-reduce
  is an all-reduce, so the R1 penalty's input gradient is that of the whole batch's
  logits, as on one device.
- Gradients are averaged over the replicas before the optimizer clips them (see
  ``_apply``): Keras's own path clips each replica's share before summing, which is not
  what one device computes under ``--clipvalue``.
- Logged figures are means over equal shares, so their mean over the replicas is the
  batch's.

Several processes are not supported here (see the README's "Scaling out").
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from pianogan.errors import PianoganError
from pianogan.models.architectures import MinibatchStd
from pianogan.models.losses import discriminator_loss
from pianogan.training.backends import Placement, check_batch_split, refuse_critic_memory, refuse_dropout

MEAN = tf.distribute.ReduceOp.MEAN


def start(placement: Placement, batch_size: int) -> None:
    """Mirror the variables over the devices asked for (this machine's GPUs, else its CPUs
    as TensorFlow was configured to show them) by making the strategy the default."""
    if placement.processes > 1:
        raise PianoganError(f"--num-processes {placement.processes}: training on several processes runs under --backend jax or torch, not tensorflow")
    devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
    count = check_batch_split(placement, batch_size, len(devices), devices[0].device_type)
    if count > 1:
        tf.distribute.experimental_set_strategy(tf.distribute.MirroredStrategy([device.name for device in devices[:count]]))


def enable_determinism() -> None:
    """Make TensorFlow kernels deterministic so a resumed run equals an uninterrupted one."""
    tf.config.experimental.enable_op_determinism()


def local():
    """Models built outside the step (for sampling and saving) may be mirrored too: they
    are called outside the replicas, where that is one computation."""
    return contextlib.nullcontext()


def agree(flag: bool) -> bool:
    return flag


def make_step(gan):
    """``gan_step`` as one graph, traced at the first batch with every entry's first
    dimension left open, as ``fit()``'s dataset left it when it drove this step: the same
    graph, so a recipe without texture figures trains as the runs before did. Under several
    replicas the graph is traced with synchronized batch normalisation (see
    ``_synchronized``). The texture figures that G's loss reads are compiled by XLA
    (``gan.compile_figures``), the rest stays on TensorFlow's own kernels, whose
    convolutions run on oneDNN, several times faster than XLA's on the CPU; the compiled
    figures differ from the plain ones by round-off, so a recipe reading them no longer
    takes the path its runs took before."""
    strategy = tf.distribute.get_strategy()
    gan.compile_figures(functools.partial(tf.function, jit_compile=True))
    replicas = strategy.num_replicas_in_sync
    if replicas > 1:
        refuse_dropout(gan, f"--devices {replicas}")
        refuse_critic_memory(gan, f"--devices {replicas} under TensorFlow")
    compiled = None

    def step(batch: dict[str, np.ndarray]) -> dict:
        nonlocal compiled
        if compiled is None:
            spec = {name: tf.TensorSpec((None, *value.shape[1:]), tf.as_dtype(value.dtype)) for name, value in batch.items()}
            compiled = tf.function(lambda data: gan_step(gan, data["real"], data["z"], data["noise"], data["augment"], strategy), input_signature=[spec])
            with _synchronized(gan) if replicas > 1 else contextlib.nullcontext():
                compiled.get_concrete_function()
        return compiled(batch)

    return step


@contextlib.contextmanager
def _synchronized(gan) -> Iterator[None]:
    """Batch statistics over the whole batch in G and D while the step is traced.

    The layers read the setting when they are called, so it lives in the traced graph only:
    the models themselves keep their own, and a saved generator keeps ``synchronized`` off
    and loads under every backend (Keras refuses it outside TensorFlow).
    """
    norms = _layers(gan, keras.layers.BatchNormalization)
    spreads = _layers(gan, MinibatchStd)
    for layer in norms:
        layer.synchronized = True
    for layer in spreads:
        layer.batch_variance = _batch_variance
    try:
        yield
    finally:
        for layer in norms:
            layer.synchronized = False
        for layer in spreads:
            layer.batch_variance = MinibatchStd.batch_variance


def _batch_variance(x):
    """The variance over the first axis of the whole batch, which the replicas share equally
    (so the mean of their means is the batch's)."""
    replica = tf.distribute.get_replica_context()
    mean = replica.all_reduce(MEAN, ops.mean(x, axis=0))
    return replica.all_reduce(MEAN, ops.mean(ops.square(x - mean), axis=0))


def _batch_mean(x):
    """The mean over the first axis of the whole batch, on one device or shared by several."""
    replica = tf.distribute.get_replica_context()
    mean = ops.mean(x, axis=0)
    return mean if replica is None or replica.num_replicas_in_sync == 1 else replica.all_reduce(MEAN, mean)


def _layers(gan, kind: type) -> list:
    """The layers of the networks a step trains (``gan.networks``) that are ``kind``."""
    return [layer for model in gan.networks for layer in model.layers if isinstance(layer, kind)]


def _on_replicas(strategy, part: Callable, *batch) -> dict:
    """``part`` of this replica's share of ``batch`` on every replica, the figures it returns
    averaged; the moves (2, B, 3) split along their second axis."""
    if strategy.num_replicas_in_sync == 1:
        return part(*batch)

    def share(*batch):
        replica = tf.distribute.get_replica_context()
        size = tf.shape(batch[0])[0] // replica.num_replicas_in_sync
        first = replica.replica_id_in_sync_group * size
        *entries, moves = batch
        return part(*(entry[first : first + size] for entry in entries), moves[:, first : first + size])

    return tf.nest.map_structure(lambda value: strategy.reduce(MEAN, value, axis=None), strategy.run(share, args=batch))


def _apply(optimizer, gradients: list, weights: list) -> None:
    """Apply the mean of the replicas' gradients, as one device would the batch's.

    Keras's optimizer, called in every replica, clips each replica's gradients and then sums
    them. Handing it the mean gradient in the first replica and zeros in the others makes that
    sum the clipped mean gradient, exactly (x + 0 is x), which is what one device applies.
    """
    replica = tf.distribute.get_replica_context()
    if replica.num_replicas_in_sync > 1:
        first = tf.cast(tf.equal(replica.replica_id_in_sync_group, 0), tf.float32)
        gradients = [first * gradient for gradient in replica.all_reduce(MEAN, gradients)]
    optimizer.apply(gradients, weights)


def gan_step(gan, real, z, noise, augment, strategy=None):
    """One discriminator update, then one generator update; returns the logged figures.

    ``augment`` (2, B, 3) holds the moves for D's real and generated inputs (used when the
    GAN augments both sides; see ``gan.augment``). Under a strategy with several replicas,
    each replica takes its share of the batch.
    """
    strategy = strategy or tf.distribute.get_strategy()
    real, z, noise = (tf.convert_to_tensor(x, tf.float32) for x in (real, z, noise))
    figures = _on_replicas(strategy, lambda *share: _discriminator_update(gan, *share), real, z, noise, augment)
    figures |= _on_replicas(strategy, lambda *share: _generator_update(gan, *share), z, augment)
    gan.step_counter.assign_add(1)
    gan.update_ema()
    return figures


def _discriminator_update(gan, real, z, noise, augment) -> dict:
    """One update of D on a batch; returns its figures (D loss, R1, D's mean outputs)."""
    real_moves, fake_moves = augment[0], augment[1]
    unmoved, real = real, gan.d_real(real, real_moves)
    generator, discriminator = gan.generator, gan.discriminator
    with tf.GradientTape() as d_tape:
        probabilities = generator(z, training=True)
        fake = gan.d_input(probabilities, fake_moves)
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
    _apply(gan.d_optimizer, d_tape.gradient(d_total, d_weights), d_weights)
    figures = {
        "d_loss": d_loss,
        "r1": r1_penalty,
        "d_real": ops.mean(ops.sigmoid(real_logits)),
        "d_fake": ops.mean(ops.sigmoid(fake_logits)),
        "real_lit": ops.mean(real[..., :1]),
    }
    return figures if gan.critic is None else figures | _critic_update(gan, unmoved, tf.stop_gradient(probabilities), noise)


def _critic_update(gan, real, probabilities, noise) -> dict:
    """One update of the figure critic (``gan.critic_batch``), with R1 on the real
    figures; with a memory (one device only, see ``make_step``) it also reads the batch
    it recalls, and keeps the current one. Returns its loss."""
    real_figures, fake_figures = gan.critic_batch(real, probabilities)
    memory = gan.critic_memory
    with tf.GradientTape() as c_tape:
        with tf.GradientTape() as r1_tape:
            r1_tape.watch(real_figures)
            real_logits = gan.critic(real_figures, training=True)
            summed = tf.reduce_sum(real_logits)
        r1_penalty = tf.reduce_mean(tf.reduce_sum(tf.square(r1_tape.gradient(summed, real_figures)), axis=1))
        c_objective, c_loss = gan.critic_objective(functools.partial(gan.critic, training=True), real_logits, fake_figures, noise, gan.step_counter, memory)
        c_total = c_objective + 0.5 * gan.critic_r1_gamma * r1_penalty
    c_weights = gan.critic.trainable_variables
    _apply(gan.c_optimizer, c_tape.gradient(c_total, c_weights), c_weights)
    if memory is not None:
        memory.assign(gan.remember(memory, gan.step_counter, fake_figures))
    return {"critic_loss": c_loss}


def _generator_update(gan, z, augment) -> dict:
    """One update of G on a batch, against the updated D; returns its figures (G loss, lit share)."""
    generator = gan.generator
    with tf.GradientTape() as g_tape:
        probabilities = generator(z, training=True)
        g_logits = gan.discriminator(gan.d_input(probabilities, augment[1]), training=True)
        g_total, g_loss, terms = gan.generator_objective(g_logits, probabilities, z, _batch_mean)
    g_weights = generator.trainable_variables
    _apply(gan.g_optimizer, g_tape.gradient(g_total, g_weights), g_weights)
    figures = {
        "g_loss": g_loss,
        "fake_lit": ops.mean(ops.cast(probabilities[..., :1] >= 0.5, "float32")),
    }
    return figures | terms

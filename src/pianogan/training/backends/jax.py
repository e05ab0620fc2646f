"""The GAN step under JAX: a pure function of the state, compiled once by ``jax.jit``.

JAX has no tapes: the step takes every variable's value and returns the new ones
(Keras's ``stateless_call`` and ``stateless_apply``), and the R1 penalty is a
``jax.grad`` inside the function that the outer ``jax.grad`` differentiates.

Data parallelism comes from Keras's distribution API: ``keras.distribution.DataParallel``
replicates the variables over the devices and each batch is split along its first axis.
XLA then computes the same global step as on one device, batch statistics included (the
generator's batch normalisation and the discriminator's minibatch deviation see the
whole batch, not each device's share), so N devices train like one with the same global
batch. Several processes (one per machine) join through ``jax.distributed``; each
builds the whole batch from (seed, step), as every batch is, and hands its devices their
part of it.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import keras
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import NamedSharding, PartitionSpec

from pianogan.errors import PianoganError
from pianogan.models.gan import ema_decay_at
from pianogan.models.losses import discriminator_loss
from pianogan.training.backends import Placement

SPLIT = ("real", "z", "noise")  # batch entries split over the devices; the moves (2, B, 3) are replicated


def start(placement: Placement, batch_size: int) -> None:
    """Join the other processes, then spread the variables over the devices asked for."""
    if placement.processes > 1:
        if not placement.coordinator:
            raise PianoganError(f"--num-processes {placement.processes} needs --coordinator HOST:PORT (process 0's address)")
        keras.distribution.initialize(placement.coordinator, placement.processes, placement.process_id)
    local = jax.local_devices()
    if placement.devices is not None and placement.devices > len(local):
        raise PianoganError(f"--devices {placement.devices}: this machine has {len(local)} {local[0].platform.upper()} device(s)")
    per_process = len(local) if placement.devices is None else placement.devices
    devices = [device for device in jax.devices() if device.process_index != jax.process_index() or device in local[:per_process]]
    if len(devices) != per_process * jax.process_count():
        raise PianoganError("--devices: every process must use as many devices (give --devices N the same N everywhere)")
    if batch_size % len(devices):
        raise PianoganError(f"--batch-size {batch_size} does not split evenly over {len(devices)} devices")
    keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices) if len(devices) > 1 else None)


def enable_determinism() -> None:
    """XLA's CPU and GPU kernels give the same result for the same program and inputs."""


def local():
    """New models live on this process's first device, outside the data-parallel layout."""
    return keras.distribution.DataParallel(devices=jax.local_devices()[:1]).scope()


def agree(flag: bool) -> bool:
    if jax.process_count() == 1:
        return flag
    return bool(multihost_utils.broadcast_one_to_all(np.array(flag)))


def _critic_at(gan, c_weights):
    """The figure critic at the weights ``c_weights``, as a function of figures (its logits)."""
    return lambda figures: gan.critic.stateless_call(c_weights, [], figures, training=True)[0]


def make_step(gan):
    return Step(gan)


class Step:
    """One compiled step over the GAN's variables, written back to them after each call."""

    def __init__(self, gan):
        self.gan = gan
        g, d, ema = gan.generator, gan.discriminator, gan.ema_generator
        self.groups = (
            g.trainable_variables,
            g.non_trainable_variables,
            d.trainable_variables,
            d.non_trainable_variables,
            ema.trainable_variables,
            ema.non_trainable_variables,
            gan.g_optimizer.variables,
            gan.d_optimizer.variables,
            [gan.step_counter],
            [] if gan.critic is None else gan.critic.trainable_variables,
            [] if gan.critic is None else gan.c_optimizer.variables,
            [] if gan.critic_memory is None else [gan.critic_memory],
        )
        distribution = keras.distribution.distribution()
        self.sharding = NamedSharding(distribution.device_mesh.backend_mesh, PartitionSpec("batch")) if distribution else None
        self.compiled = jax.jit(self.pure)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict:
        placed: dict[str, Any] = dict(batch)
        if self.sharding is not None:
            for k in SPLIT:
                placed[k] = jax.make_array_from_callback(batch[k].shape, self.sharding, batch[k].__getitem__)
        state, logs = self.compiled([[v.value for v in group] for group in self.groups], placed)
        for group, values in zip(self.groups, state):
            for variable, value in zip(group, values):
                variable.assign(value)
        return logs

    def pure(self, state, batch):
        """The step as a function: (variables' values, batch) -> (new values, logged figures),
        in the order of the TensorFlow step (D update, the figure critic's when there is one, G
        update, step count, weight average)."""
        gan = self.gan
        generator, discriminator = gan.generator, gan.discriminator
        g_weights, g_state, d_weights, d_state, ema_weights, _, g_slots, d_slots, (step,), c_weights, c_slots, memory = state
        z, noise, fake_moves = batch["z"], batch["noise"], batch["augment"][1]
        real = gan.d_real(batch["real"], batch["augment"][0])

        def d_objective(d_weights, d_state, g_state):
            probabilities, g_state = generator.stateless_call(g_weights, g_state, z, training=True)
            fake = jax.lax.stop_gradient(gan.d_input(probabilities, fake_moves))
            if gan.r1_gamma > 0:

                def summed_logits(rolls, d_state):
                    logits, d_state = discriminator.stateless_call(d_weights, d_state, rolls, training=True)
                    return jnp.sum(logits), (logits, d_state)

                input_gradient, (real_logits, d_state) = jax.grad(summed_logits, has_aux=True)(real, d_state)
                r1_penalty = jnp.mean(jnp.sum(jnp.square(input_gradient), axis=(1, 2, 3)))
            else:
                real_logits, d_state = discriminator.stateless_call(d_weights, d_state, real, training=True)
                r1_penalty = jnp.zeros((), "float32")
            fake_logits, d_state = discriminator.stateless_call(d_weights, d_state, fake, training=True)
            d_loss = discriminator_loss(gan.loss_kind, real_logits, fake_logits, noise)
            aux = (d_loss, r1_penalty, real_logits, fake_logits, d_state, g_state, jax.lax.stop_gradient(probabilities))
            return d_loss + 0.5 * gan.r1_gamma * r1_penalty, aux

        (_, (d_loss, r1_penalty, real_logits, fake_logits, d_state, g_state, drawn)), gradients = jax.value_and_grad(d_objective, has_aux=True)(
            d_weights, d_state, g_state
        )
        d_weights, d_slots = gan.d_optimizer.stateless_apply(d_slots, gradients, d_weights)
        critic_logs = {}
        if gan.critic is not None:
            c_weights, c_slots, memory, critic_logs = self.critic_update(c_weights, c_slots, memory, step, batch["real"], drawn, noise)

        def g_objective(g_weights, g_state, d_state):
            probabilities, g_state = generator.stateless_call(g_weights, g_state, z, training=True)
            logits, d_state = discriminator.stateless_call(d_weights, d_state, gan.d_input(probabilities, fake_moves), training=True)
            # the batch is global here, so the texture's means are the whole batch's on any number of devices
            critic = None if gan.critic is None else _critic_at(gan, c_weights)
            total, g_loss, terms = gan.generator_objective(logits, probabilities, z, critic=critic)
            return total, (g_loss, terms, probabilities, g_state, d_state)

        (_, (g_loss, terms, probabilities, g_state, d_state)), gradients = jax.value_and_grad(g_objective, has_aux=True)(g_weights, g_state, d_state)
        g_weights, g_slots = gan.g_optimizer.stateless_apply(g_slots, gradients, g_weights)

        step = step + 1
        decay = ema_decay_at(gan.ema_decay, step)
        ema_weights = [decay * ema + (1.0 - decay) * live for ema, live in zip(ema_weights, g_weights)]
        logs = (
            {
                "d_loss": d_loss,
                "g_loss": g_loss,
                "r1": r1_penalty,
                "d_real": jnp.mean(jax.nn.sigmoid(real_logits)),
                "d_fake": jnp.mean(jax.nn.sigmoid(fake_logits)),
                "fake_lit": jnp.mean((probabilities[..., :1] >= 0.5).astype("float32")),
                "real_lit": jnp.mean(real[..., :1]),
            }
            | terms
            | critic_logs
        )
        return [g_weights, g_state, d_weights, d_state, ema_weights, list(g_state), g_slots, d_slots, [step], c_weights, c_slots, memory], logs

    def critic_update(self, c_weights, c_slots, memory, step, real, probabilities, noise):
        """One update of the figure critic (``gan.critic_batch``), as the TensorFlow step's
        ``_critic_update``, with R1 on the real figures; ``memory`` holds the critic's memory
        ([] without one), returned as it is after the step."""
        gan = self.gan
        real_figures, fake_figures = gan.critic_batch(real, probabilities)

        def c_objective(c_weights):
            critic = _critic_at(gan, c_weights)

            def summed_logits(figures):
                logits = critic(figures)
                return jnp.sum(logits), logits

            input_gradient, real_logits = jax.grad(summed_logits, has_aux=True)(real_figures)
            r1_penalty = jnp.mean(jnp.sum(jnp.square(input_gradient), axis=1))
            objective, c_loss = gan.critic_objective(critic, real_logits, fake_figures, noise, step, *memory)
            return objective + 0.5 * gan.critic_r1_gamma * r1_penalty, c_loss

        (_, c_loss), gradients = jax.value_and_grad(c_objective, has_aux=True)(c_weights)
        c_weights, c_slots = gan.c_optimizer.stateless_apply(c_slots, gradients, c_weights)
        memory = [gan.remember(value, step, fake_figures) for value in memory]
        return c_weights, c_slots, memory, {"critic_loss": c_loss}

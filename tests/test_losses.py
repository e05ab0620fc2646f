"""Every adversarial loss on hand-made logits, and an unknown name refused."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("keras")

from pianogan.errors import OptionError
from pianogan.models.losses import LOSSES, check_loss, discriminator_loss, generator_loss

REAL = np.array([[2.0], [-1.0]], np.float32)
FAKE = np.array([[0.5], [-3.0]], np.float32)
NO_NOISE = np.zeros((2, 2), np.float32)


def softplus(x):
    return np.log1p(np.exp(x))


def value(tensor) -> float:
    return float(np.asarray(tensor))


def test_nonsaturating():
    assert value(discriminator_loss("nonsaturating", REAL, FAKE, NO_NOISE)) == pytest.approx(softplus(-REAL).mean() + softplus(FAKE).mean(), rel=1e-6)
    assert value(generator_loss("nonsaturating", FAKE)) == pytest.approx(softplus(-FAKE).mean(), rel=1e-6)


def test_hinge():
    # D: relu(1 - [2, -1]) = [0, 2] and relu(1 + [0.5, -3]) = [1.5, 0]; G: -mean(fakes).
    assert value(discriminator_loss("hinge", REAL, FAKE, NO_NOISE)) == pytest.approx(1.0 + 0.75)
    assert value(generator_loss("hinge", FAKE)) == pytest.approx(1.25)


def test_seed_is_bce_with_flipped_labels():
    # Real labelled 0, fake 1: BCE(0, x) = softplus(x), BCE(1, x) = softplus(-x).
    assert value(discriminator_loss("seed", REAL, FAKE, NO_NOISE)) == pytest.approx(softplus(REAL).mean() + softplus(-FAKE).mean(), rel=1e-6)
    assert value(generator_loss("seed", FAKE)) == pytest.approx(softplus(FAKE).mean(), rel=1e-6)


def test_seed_label_noise_softens_both_labels():
    noise = np.ones((2, 2), np.float32)
    labels_real, labels_fake = 0.05, 1.05
    expected = np.mean(np.maximum(REAL, 0) - REAL * labels_real + softplus(-np.abs(REAL))) + np.mean(
        np.maximum(FAKE, 0) - FAKE * labels_fake + softplus(-np.abs(FAKE))
    )
    assert value(discriminator_loss("seed", REAL, FAKE, noise)) == pytest.approx(expected, rel=1e-6)


def test_a_perfect_discriminator_costs_nothing_under_hinge():
    assert value(discriminator_loss("hinge", np.full((3, 1), 4.0, np.float32), np.full((3, 1), -4.0, np.float32), np.zeros((3, 2), np.float32))) == 0.0


@pytest.mark.parametrize("name", ["bce", "Hinge", "", "wasserstein"])
def test_an_unknown_loss_names_the_choices(name):
    for call in (lambda: discriminator_loss(name, REAL, FAKE, NO_NOISE), lambda: generator_loss(name, FAKE), lambda: check_loss(name)):
        with pytest.raises(OptionError, match=rf"^loss must be one of nonsaturating, hinge, seed, got {name!r}$") as caught:
            call()
        assert caught.value.parameter == "loss"
    assert all(check_loss(known) == known for known in LOSSES)


def test_mode_seeking_reads_neighbours_as_pairs_and_grows_as_their_rolls_meet():
    from pianogan.models.losses import mode_seeking_loss

    z = np.array([[1.0, -1.0], [3.0, -1.0], [0.0, 0.0], [0.0, 2.0], [9.0, 9.0]], np.float32)  # the odd last one sits out
    rolls = np.zeros((5, 4, 3, 1), np.float32)
    rolls[0, 0, 0] = 1.0  # pair 0-1: one pixel of 12 differs; latent gap (2 + 0) / 2 = 1
    rolls[2, :2] = 0.5  # pair 2-3: six pixels differ by 0.5; latent gap (0 + 2) / 2 = 1
    rolls[4] = 1.0
    expected = 1.0 / ((1 / 12 + 3 / 12) / 2 / 1.0 + 1e-5)
    assert value(mode_seeking_loss(z, rolls)) == pytest.approx(expected, rel=1e-6)
    alike = rolls.copy()
    alike[2, :2] = 0.1  # the second pair's rolls nearer each other: the loss grows
    assert value(mode_seeking_loss(z, alike)) > expected
    assert value(mode_seeking_loss(2 * z, rolls)) == pytest.approx(2 * expected, rel=1e-4)  # the same rolls for latents twice as far apart

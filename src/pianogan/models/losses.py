"""The adversarial losses, on D's logits, in ``keras.ops`` so every backend runs them."""

from __future__ import annotations

from keras import ops

from pianogan.errors import OptionError

LOSSES = ("nonsaturating", "hinge", "seed")


def check_loss(kind: str) -> str:
    """``kind`` if it names a loss, else an ``OptionError`` naming the choices."""
    if kind not in LOSSES:
        raise OptionError("loss", f"must be one of {', '.join(LOSSES)}, got {kind!r}")
    return kind


def discriminator_loss(kind: str, real_logits, fake_logits, noise):
    """Loss of D on one batch.

    ``nonsaturating``: softplus(-D(real)) + softplus(D(fake)) (Goodfellow et al. 2014).
    ``hinge``: relu(1 - D(real)) + relu(1 + D(fake)) (Lim & Ye 2017; Miyato et al. 2018).
    ``seed``: the seed project's binary cross-entropy with flipped labels (real = 0,
    fake = 1) plus 0.05 uniform label noise.
    """
    check_loss(kind)
    if kind == "nonsaturating":
        return ops.mean(ops.softplus(-real_logits)) + ops.mean(ops.softplus(fake_logits))
    if kind == "hinge":
        return ops.mean(ops.relu(1.0 - real_logits)) + ops.mean(ops.relu(1.0 + fake_logits))
    real_labels = 0.05 * noise[:, :1]
    fake_labels = 1.0 + 0.05 * noise[:, 1:]
    return ops.mean(_bce(real_labels, real_logits)) + ops.mean(_bce(fake_labels, fake_logits))


def generator_loss(kind: str, fake_logits):
    """Loss of G: make D call the fakes real (label 0 in the seed's flipped convention)."""
    check_loss(kind)
    if kind == "nonsaturating":
        return ops.mean(ops.softplus(-fake_logits))
    if kind == "hinge":
        return -ops.mean(fake_logits)
    return ops.mean(_bce(ops.zeros_like(fake_logits), fake_logits))


def mode_seeking_loss(z, outputs, batch_mean=lambda x: ops.mean(x, axis=0), eps: float = 1e-5):
    """Mode seeking (Mao et al., "Mode seeking generative adversarial networks for diverse
    image synthesis", CVPR 2019): the inverse of how far apart two latents' outputs lie for
    how far apart the latents are, which grows without bound as G writes one roll for many
    latents. G descends it, so it is pushed to spread its pieces as widely as the data's.

    The batch is paired neighbour by neighbour (examples 0 and 1, 2 and 3, ...; an odd last
    one sits out), so a batch split over devices in even shares holds the same pairs; the
    mean gaps are the whole batch's through ``batch_mean``, as in ``texture``. ``outputs``
    are G's probabilities (B, ...), ``z`` its latents (B, latent)."""
    pairs = ops.shape(z)[0] // 2 * 2
    image = ops.abs(outputs[0:pairs:2] - outputs[1:pairs:2])
    image_gap = batch_mean(ops.mean(image, axis=tuple(range(1, len(outputs.shape)))))
    latent_gap = batch_mean(ops.mean(ops.abs(z[0:pairs:2] - z[1:pairs:2]), axis=1))
    return 1.0 / (image_gap / latent_gap + eps)


def _bce(labels, logits):
    """Binary cross-entropy on logits, numerically stable, labels may be soft."""
    return ops.relu(logits) - logits * labels + ops.softplus(-ops.abs(logits))

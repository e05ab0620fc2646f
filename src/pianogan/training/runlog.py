"""A run's ``train_log.csv``: reading, writing and plotting it (no Keras needed)."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

from pianogan.errors import PianoganError
from pianogan.io.atomic import write_text

LOG = "train_log.csv"
LOG_FIELDS = ["step", "seconds", "d_loss", "g_loss", "r1", "d_real", "d_fake", "fake_lit", "real_lit"]
# Filled at checkpoints only: D's mean output on fixed training and validation windows (``train.overfitting_probe``).
PROBE_FIELDS = ["d_train_windows", "d_validation_windows"]
# Filled only by runs that use texture matching: its gap in the figures' moments
# (``texture.texture_loss``), its kernel discrepancy (``texture.texture_kernel_loss``) and
# its figure-by-figure discrepancy (``texture.texture_marginal_loss``); and by runs with a
# figure critic: its verdict in G's loss and its own loss (``gan.GAN.critic``).
TERM_FIELDS = ["texture_gap", "texture_kernel_gap", "texture_marginal_gap", "figure_critic", "critic_loss", "mode_seeking"]


def read_log(run: str | os.PathLike, up_to_step: int | None = None) -> list[dict]:
    """Rows of RUN/train_log.csv, optionally only up to a step (a resume drops later rows).

    A damaged file (a row without a whole step or a number of seconds) is a one-line
    error naming its line, rather than a crash halfway through a resume.
    """
    path = Path(run) / LOG
    if not path.exists():
        return []
    rows = []
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            for line, row in enumerate(csv.DictReader(handle), start=2):
                try:
                    step, _ = int(row["step"]), float(row["seconds"])
                except (KeyError, TypeError, ValueError):
                    raise PianoganError(f"{path} line {line}: damaged row {row!r}; move the file away to resume without the earlier log") from None
                if up_to_step is None or step <= up_to_step:
                    rows.append(row)
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise PianoganError(f"{path}: unreadable training log ({error}); move the file away to resume without the earlier log") from None
    return rows


def write_log(run: str | os.PathLike, rows: list[dict]) -> None:
    """Rewrite RUN/train_log.csv atomically."""
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=LOG_FIELDS + PROBE_FIELDS + TERM_FIELDS)
    writer.writeheader()
    writer.writerows(rows)
    write_text(Path(run) / LOG, text.getvalue())


def _smooth(values: list[float], window: int) -> list[float]:
    out, total = [], 0.0
    for i, value in enumerate(values):
        total += value - (values[i - window] if i >= window else 0.0)
        out.append(total / min(i + 1, window))
    return out


def plot_run(run: str | os.PathLike, smooth: int = 50):
    """Three panels over steps: the losses, mean D(real) and D(fake) (with D on the probe
    windows at checkpoints: its overfitting), lit-pixel shares.

    Curves are running means over ``smooth`` steps. Returns the matplotlib Figure.
    """
    import matplotlib.pyplot as plt

    rows = read_log(run)
    steps = [int(r["step"]) for r in rows]
    smooth = max(1, min(smooth, len(rows) // 5 or 1))
    figure, axes = plt.subplots(1, 3, figsize=(15, 3.6))
    panels = [
        ("losses", ["d_loss", "g_loss"]),
        ("discriminator output (0 fake .. 1 real)", ["d_real", "d_fake"]),
        ("share of lit pixels", ["real_lit", "fake_lit"]),
    ]
    for ax, (title, keys) in zip(axes, panels):
        for key in keys:
            ax.plot(steps, _smooth([float(r[key]) for r in rows], smooth), label=key)
        if "d_real" in keys:
            for key in PROBE_FIELDS:
                probed = [(int(r["step"]), float(r[key])) for r in rows if r.get(key)]
                if probed:
                    ax.plot(*zip(*probed), marker="o", label=key)
        ax.set_title(title)
        ax.set_xlabel("step")
        ax.legend()
    figure.tight_layout()
    return figure

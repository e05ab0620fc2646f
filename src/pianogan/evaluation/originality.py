"""How new is a piece? Its nearest training window, by IoU with transposition, and whose it is.

The training set is a prepared dataset's train split (``pianogan prepare``): named with
``--training DIR``, or found from the model file's own facts (``modelio.read_facts``: a
model trained by ``pianogan train`` records its dataset's folder and fingerprint, and the
folder counts only while its fingerprint still matches). Its manifest names the source
piece of every window.

``compare.nearest_training_iou`` does the comparison: exact over 1,000 sampled windows
plus every window that could be a near copy (IoU > 0.8) of the piece, so a near copy is
never missed; the IoU reported is the best among those. About a second per call on
POP909's 3,700 windows, whatever the number of pieces.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pianogan.data import datasets
from pianogan.errors import PianoganError
from pianogan.evaluation import compare
from pianogan.roll import windows


@dataclass(frozen=True)
class TrainingSet:
    """A model's training windows and the source of each (``file`` and window ``k``)."""

    path: Path
    windows: np.ndarray  # bool (M, 106, W)
    sources: list[tuple[str, int]]

    @classmethod
    def open(cls, dataset_dir: str | os.PathLike, split: str = "train") -> TrainingSet:
        """Load a prepared dataset's split; one-line PianoganError if it is not one."""
        rolls = datasets.load_split(dataset_dir, split)
        try:
            rows = datasets.read_manifest(dataset_dir, split)
        except (ValueError, KeyError, OSError):
            rows = []
        sources = [(row.get("file", "?"), int(row.get("k") or 0)) for row in rows] if len(rows) == len(rolls) else [("?", i) for i in range(len(rolls))]
        return cls(Path(dataset_dir), rolls, sources)

    def nearest(self, rolls: list[np.ndarray]) -> list[dict]:
        """For each roll (any length), its nearest training window over all its windows.

        Each answer: ``iou`` (0..1), ``source`` (the file), ``window`` (its index in that
        file), ``shift`` (semitones the piece was moved to match) and ``near_copy``.
        """
        width = self.windows.shape[2]
        cut = [[w for _, w in windows(roll, width)] or [np.zeros((roll.shape[0], width), bool)] for roll in rolls]
        stacked = np.stack([w for piece in cut for w in piece])
        found = compare.nearest_training_iou(stacked, self.windows)
        answers, first = [], 0
        for piece in cut:
            part = slice(first, first + len(piece))
            best = first + int(np.argmax(found["nearest_iou"][part]))
            index = int(found["nearest_index"][best])
            source, k = self.sources[index] if index >= 0 else ("?", -1)
            iou = float(found["nearest_iou"][best])
            answers.append(
                {"iou": round(iou, 4), "source": source, "window": k, "shift": int(found["nearest_shift"][best]), "near_copy": iou > found["threshold"]}
            )
            first += len(piece)
        return answers


def for_model(facts: dict, training: str | os.PathLike | None = None) -> TrainingSet | None:
    """The training set to compare with: ``training`` if given, else the model's own if at hand.

    An explicit folder that is not a dataset is an error; a recorded one that is gone or
    has changed (another fingerprint) quietly means no comparison.
    """
    if training is not None:
        return TrainingSet.open(training)
    recorded = facts.get("dataset")
    if not recorded or not Path(recorded).is_dir():
        return None
    try:
        if datasets.dataset_fingerprint(recorded) != facts.get("dataset_fingerprint"):
            return None
        return TrainingSet.open(recorded)
    except PianoganError:
        return None

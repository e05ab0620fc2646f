"""Shared test fixtures: where the real data lives, and quiet, deterministic Keras."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

REPO = Path(__file__).resolve().parents[1]
POP909_MIDI = REPO.parent / "shared" / "data" / "pop909" / "midi"


@pytest.fixture
def pop909_midi() -> Path:
    """The real POP909 MIDI folder, or a clean skip where it is not present."""
    if not POP909_MIDI.is_dir():
        pytest.skip("POP909 data not present (../shared/data/pop909/midi)")
    return POP909_MIDI

"""describe: a roll bar by bar, checked on hand-made bars."""

from __future__ import annotations

import numpy as np

from pianogan.cli import main
from pianogan.evaluation.describe import bars, describe
from pianogan.io.midi import write_midi


def row(pitch: int) -> int:
    return pitch - 21


def c_major_bar_then_silence() -> np.ndarray:
    roll = np.zeros((106, 48), dtype=bool)
    for pitch in (48, 52, 55):  # C3 E3 G3 held through bar 1
        roll[row(pitch), 0:16] = True
    roll[row(76), 0:4] = roll[row(74), 4:8] = roll[row(72), 8:16] = True  # E5 D5 C5
    roll[row(57), 32:48] = roll[row(60), 32:48] = roll[row(64), 32:48] = True  # A minor in bar 3, A3 in the bass
    return roll


def test_each_bar_names_its_chord_bass_and_melody():
    first, empty, third = bars(c_major_bar_then_silence())
    assert (first.chord, first.bass, first.melody) == ("C", ("C3", ".", ".", "."), ("E5:4", "D5:4", "C5:8"))
    assert first.notes == 6 and first.voices == 4.0
    assert (empty.chord, empty.bass, empty.melody, empty.notes) == ("-", (".", ".", ".", "."), (), 0)
    assert (third.chord, third.bass, third.melody) == ("Am", ("A3", ".", ".", "."), ("E4:16",))


def test_the_text_starts_with_key_and_register(tmp_path, capsys):
    text = describe(c_major_bar_then_silence())
    assert text.splitlines()[0].startswith("C major, 3 bars, notes C3 to E5, 9 notes")
    assert len(text.splitlines()) == 4 and "melody E5:4 D5:4 C5:8" in text.splitlines()[1]
    write_midi(c_major_bar_then_silence(), tmp_path / "piece.mid")
    assert main(["describe", str(tmp_path / "piece.mid")]) == 0
    assert capsys.readouterr().out.strip() == text
    assert main(["describe", str(tmp_path / "missing.mid")]) == 2
    assert "missing.mid: no such file" in capsys.readouterr().err

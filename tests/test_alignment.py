"""Bar alignment: grid offset, beat and downbeat found from the notes; windows start on beat 1."""

from __future__ import annotations

import numpy as np
import pytest
import symusic

from pianogan.cli import main
from pianogan.io import midi
from pianogan.io.png import read_png
from pianogan.music import alignment
from pianogan.roll import bar_stride, window_count, windows

TPQ = 480
COLUMN = TPQ // 4


def pop_song(offset_ticks: int, downbeat_column: int, bars: int = 40, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Notes (starts, ends, pitches) of a 4/4 song on a sixteenth grid that starts ``offset_ticks``
    after tick 0, with its first downbeat at column ``downbeat_column`` of that grid: a bass
    note held through each bar, chords on the beats, a melody of eighths and sixteenths."""
    rng = np.random.default_rng(seed)
    starts, lengths, pitches = [], [], []
    for bar in range(bars):
        first = downbeat_column + 16 * bar
        starts.append(first), lengths.append(16), pitches.append(int(rng.choice([36, 41, 43, 45])))
        for beat in range(4):
            for pitch in rng.choice([55, 59, 62, 64, 67], 2, replace=False):
                starts.append(first + 4 * beat), lengths.append(3), pitches.append(int(pitch))
        column = first
        while column < first + 16:
            step = int(rng.choice([1, 2, 2, 4]))
            starts.append(column), lengths.append(step), pitches.append(int(rng.integers(67, 80)))
            column += step
    starts = np.array(starts) * COLUMN + offset_ticks
    return starts, starts + np.array(lengths) * COLUMN - 10, np.array(pitches)


@pytest.mark.parametrize("offset, downbeat", [(0, 0), (40, 0), (37, 6), (119, 13), (60, 9)])
def test_the_grid_the_beat_and_the_downbeat_are_found(offset, downbeat):
    starts, ends, pitches = pop_song(offset, downbeat)
    found = alignment.estimate(starts, ends, pitches, TPQ)
    assert found.aligned and found.on_grid == 1.0
    assert found.grid_offset == pytest.approx(offset / COLUMN, abs=1e-9)
    assert found.beat_phase == downbeat % 4 and found.downbeat_phase == downbeat
    shifted = starts + found.shift_ticks
    assert (shifted % COLUMN == 0).all()  # every onset on a column line
    assert (shifted[pitches < 50] // COLUMN % 16 == 0).all()  # every bass note on beat 1
    assert 0 <= found.shift_ticks < 16 * COLUMN


def test_a_performance_without_a_grid_is_left_as_it_is():
    rng = np.random.default_rng(1)
    starts = np.sort(rng.integers(0, 200 * TPQ, 800))
    found = alignment.estimate(starts, starts + 200, rng.integers(40, 80, 800), TPQ)
    assert not found.aligned and found.shift_ticks == 0 and found.on_grid < alignment.MIN_ON_GRID


def test_too_few_notes_are_not_aligned():
    assert alignment.estimate(np.array([0, 120]), np.array([60, 180]), np.array([60, 62]), TPQ) == alignment.NOT_ALIGNED


@pytest.mark.parametrize("signature, bar", [((4, 4), 16), ((3, 4), 12), ((6, 8), 12), ((2, 2), 16), ((12, 8), 24)])
def test_bar_length_in_columns(signature, bar):
    assert alignment.bar_columns(*signature) == bar


def test_aligned_windows_start_every_whole_number_of_bars():
    assert bar_stride(300, 16) == 288 and bar_stride(300, 12) == 300 and bar_stride(8, 16) == 8
    assert window_count(700, 300, 288) == 3 and window_count(300, 300, 288) == 1 and window_count(0, 300, 288) == 0
    roll = np.zeros((106, 700), dtype=bool)
    roll[5, 0] = roll[6, 290] = roll[7, 699] = True
    cut = dict(windows(roll, 300, 288))
    assert sorted(cut) == [0, 1, 2]
    assert cut[0][6, 290] and cut[1][6, 2] and cut[2][7, 699 - 576] and int(cut[1].sum()) == 1


def write_song(path, offset: int, downbeat: int, signature=(1, 4)) -> None:
    starts, ends, pitches = pop_song(offset, downbeat)
    score = symusic.Score(TPQ)
    score.time_signatures.append(symusic.TimeSignature(0, *signature))
    track = symusic.Track("piano", 0, False)
    for s, e, p in zip(starts, ends, pitches):
        track.notes.append(symusic.Note(int(s), int(e - s), int(p), 80))
    score.tracks.append(track)
    score.dump_midi(str(path))


def test_an_aligned_midi_file_puts_beat_one_on_column_zero_of_every_window(tmp_path):
    # A placeholder 1/4 signature, as most POP909 files carry, still reads as 4/4.
    write_song(tmp_path / "song.mid", offset=40, downbeat=6)
    plain = midi.midi_to_windows(tmp_path / "song.mid")
    aligned = midi.midi_to_windows(tmp_path / "song.mid", align=True)
    assert plain.stride == 300 and aligned.stride == 288 and not plain.stats.alignment.aligned
    assert aligned.stats.alignment.aligned and aligned.stats.alignment.bar_columns == 16
    for k, window in aligned.windows:
        bass = window[: 50 - 21]  # rows below pitch 50: the held bass notes
        onsets = np.flatnonzero((bass & ~np.pad(bass, ((0, 0), (1, 0)))[:, :-1]).any(axis=0))
        # Beat 1 of a bar (repeated bass pitches merge); window 0 begins with the bar before the first downbeat.
        assert (onsets % 16 == 0).all() and onsets[0] == (16 if k == 0 else 0)
    # Moved later by under a bar, whole: every note is still there.
    shift = aligned.stats.alignment.shift_ticks
    assert 0 < shift < 16 * COLUMN
    assert int(midi.read_midi(tmp_path / "song.mid", align=True)[0].sum()) == int(midi.read_midi(tmp_path / "song.mid")[0].sum())


def test_midi2img_aligns_on_request(tmp_path, capsys):
    write_song(tmp_path / "song.mid", offset=37, downbeat=10, signature=(4, 4))
    assert main(["midi2img", str(tmp_path / "song.mid"), "-o", str(tmp_path / "out"), "--align"]) == 0
    first, second = read_png(tmp_path / "out" / "song_0.png"), read_png(tmp_path / "out" / "song_1.png")
    bass = slice(36 - 21, 46 - 21)
    assert not first[bass, :16].any() and first[bass, 16].any() and first[bass, 32].any() and second[bass, 0].any()
    assert (first[bass, 15:17].sum(axis=1) <= 1).all()  # each bass note starts on the bar line

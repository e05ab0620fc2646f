"""MIDI <-> roll: the column rule against a slow reference, the pedal, round trips, bad files.

MIDI files are built here with symusic; a plain-Python reference implementation of the
column rule (exact fractions, one note at a time) says what each roll must be.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import mido
import numpy as np
import pytest
import symusic
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from pianogan.errors import PianoganError
from pianogan.io.midi import MAX_COLUMNS, midi_to_windows, read_midi, roll_notes, roll_to_score, write_midi
from pianogan.roll import N_PITCHES

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@dataclass
class TrackSpec:
    """One track of a synthetic file: notes (start tick, duration ticks, pitch) and pedal (tick, value)."""

    notes: list[tuple[int, int, int]]
    pedal: list[tuple[int, int]] = field(default_factory=list)
    drum: bool = False


def make_midi(path: Path, tpq: int, tracks: list[TrackSpec], tempos=((0, 120.0),)) -> Path:
    """Write a type-1 file whose tempo map lives on its own, note-less first track."""
    score = symusic.Score(tpq)
    for time, qpm in tempos:
        score.tempos.append(symusic.Tempo(time, qpm=qpm))
    score.tracks.append(symusic.Track("tempo map", 0, False))
    for spec in tracks:
        track = symusic.Track("drums" if spec.drum else "piano", 0, spec.drum)
        for start, duration, pitch in spec.notes:
            track.notes.append(symusic.Note(start, duration, pitch, 80))
        for time, value in spec.pedal:
            track.controls.append(symusic.ControlChange(time, 64, value))
        score.tracks.append(track)
    score.dump_midi(str(path))
    return path


def half_up(value: Fraction) -> int:
    return math.floor(value + Fraction(1, 2))


def reference_roll(tpq: int, tracks: list[TrackSpec], pedal: bool) -> tuple[np.ndarray, tuple[int, int, int]]:
    """The column rule, note by note: the roll and (notes kept, out of range, drum notes)."""
    notes = [(s, s + d, p, spec) for spec in tracks if not spec.drum for s, d, p in spec.notes]
    drums = sum(len(spec.notes) for spec in tracks if spec.drum)
    if pedal and notes:
        piece_end = max(end for _, end, _, _ in notes)
        onsets: dict[int, list[int]] = {}
        for start, _, pitch, _ in notes:
            onsets.setdefault(pitch, []).append(start)
        for starts in onsets.values():
            starts.sort()
        held = []
        for start, end, pitch, spec in notes:
            events = sorted(spec.pedal, key=lambda event: event[0])
            before = [value for time, value in events if time <= end]
            if before and before[-1] >= 64:
                release = min((time for time, value in events if time > end and value < 64), default=piece_end)
                later = onsets[pitch][bisect.bisect_right(onsets[pitch], start) :]
                end = max(end, min(release, later[0] if later else math.inf))
            held.append((start, end, pitch, spec))
        notes = held
    spans = []
    for start, end, pitch, _ in notes:
        if 21 <= pitch <= 126:
            first = half_up(Fraction(4 * start, tpq))
            spans.append((pitch - 21, first, max(first + 1, half_up(Fraction(4 * end, tpq)))))
    roll = np.zeros((N_PITCHES, max((last for _, _, last in spans), default=0)), dtype=bool)
    for row, first, last in spans:
        for column in range(first, last):
            roll[row, column] = True
    return roll, (len(spans), len(notes) - len(spans), drums)


def reference_windows(roll: np.ndarray, columns: int) -> list[tuple[int, np.ndarray]]:
    found = []
    for k in range(math.ceil(roll.shape[1] / columns)):
        window = np.zeros((N_PITCHES, columns), dtype=bool)
        for column in range(columns):
            if k * columns + column < roll.shape[1]:
                window[:, column] = roll[:, k * columns + column]
        if window.any():
            found.append((k, window))
    return found


def assert_same_windows(found, expected) -> None:
    assert [k for k, _ in found] == [k for k, _ in expected]
    for (_, window), (_, reference) in zip(found, expected):
        assert np.array_equal(window, reference)


def without_same_pitch_overlap(notes: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    """Drop notes that overlap or touch an earlier note of the same pitch on the same track.

    MIDI cannot say which note-off ends which of two sounding notes of one pitch and
    channel, so such notes would not read back as written.
    """
    kept, last_end = [], {}
    for start, duration, pitch in sorted(notes, key=lambda n: (n[2], n[0])):
        if start > last_end.get(pitch, -1):
            kept.append((start, duration, pitch))
            last_end[pitch] = start + duration
    return kept


@st.composite
def pieces(draw):
    """tpq, tracks (some drums, some with pedal) and a tempo map: times often on half columns."""
    tpq = draw(st.one_of(st.integers(96, 960), st.sampled_from([96, 120, 192, 384, 480, 960])))
    horizon = 48 * tpq  # 48 quarter notes = 192 columns
    ticks = st.one_of(st.integers(0, horizon), st.integers(0, 8 * 48).map(lambda eighths_of_quarter: eighths_of_quarter * tpq // 8))
    note = st.tuples(ticks, st.one_of(st.just(0), st.integers(0, 8 * tpq)), st.integers(0, 127))
    tracks = []
    for i in range(draw(st.integers(1, 3))):
        notes = without_same_pitch_overlap(draw(st.lists(note, max_size=25)))
        pedal = draw(st.lists(st.tuples(st.integers(0, horizon + 8 * tpq), st.integers(0, 127)), max_size=8, unique_by=lambda e: e[0]))
        tracks.append(TrackSpec(notes, pedal, drum=i > 0 and draw(st.booleans())))
    changes = draw(st.lists(st.tuples(st.integers(1, horizon), st.floats(20, 300)), max_size=4, unique_by=lambda t: t[0]))
    tempos = [(0, draw(st.floats(20, 300))), *sorted(changes)]
    return tpq, tracks, tempos


@FAST
@given(pieces(), st.booleans(), st.sampled_from([7, 64, 300]))
def test_read_midi_follows_the_reference_window_for_window(tmp_path, piece, pedal, columns):
    tpq, tracks, tempos = piece
    path = make_midi(tmp_path / "piece.mid", tpq, tracks, tempos)
    expected, (kept, out_of_range, drums) = reference_roll(tpq, tracks, pedal)
    roll, stats = read_midi(path, pedal=pedal)
    assert np.array_equal(roll, expected)
    assert (stats.notes, stats.dropped_out_of_range, stats.dropped_drums) == (kept, out_of_range, drums)
    assert stats.ticks_per_quarter == tpq
    windows, total, *_ = midi_to_windows(path, columns, pedal)
    assert total == math.ceil(expected.shape[1] / columns)
    assert_same_windows(windows, reference_windows(expected, columns))


@FAST
@given(pieces(), st.booleans())
def test_midi_roll_midi_roll_is_stable(tmp_path, piece, pedal):
    tpq, tracks, tempos = piece
    first, _ = read_midi(make_midi(tmp_path / "piece.mid", tpq, tracks, tempos), pedal=pedal)
    assume(first.shape[1] > 0)
    write_midi(first, tmp_path / "again.mid")
    second, stats = read_midi(tmp_path / "again.mid", pedal=pedal)
    assert np.array_equal(second, first)
    assert (stats.ticks_per_quarter, stats.first_qpm, stats.dropped_out_of_range, stats.dropped_drums) == (480, 120.0, 0, 0)


@FAST
@given(st.integers(1, 400).flatmap(lambda width: arrays(bool, (N_PITCHES, width))))
def test_roll_midi_roll_is_identical(tmp_path, roll):
    write_midi(roll, tmp_path / "roll.mid")
    back, stats = read_midi(tmp_path / "roll.mid")
    width = back.shape[1]  # a MIDI file ends with its last note: trailing silence is not kept
    assert np.array_equal(back, roll[:, :width])
    assert not roll[:, width:].any()
    assert width == 0 or roll[:, width - 1].any()
    assert stats.notes == len(roll_notes(roll)[0])


def test_column_rule_rounds_halves_up_and_lights_zero_length_notes(tmp_path):
    tpq = 480  # one column = 120 ticks, half a column = 60
    notes = [
        (0, 0, 60),  # zero length: column 0 only
        (59, 1, 62),  # 0.49 -> 0, end 0.5 -> 1: column 0
        (60, 120, 64),  # start 0.5 -> 1, end 1.5 -> 2: column 1
        (61, 58, 65),  # start 1, end 0.99 -> 1, at least one column: column 1
        (480, 960, 67),  # quarter notes 1..3: columns 4..11
        (1019, 0, 69),  # 8.49 -> 8
    ]
    roll, stats = read_midi(make_midi(tmp_path / "a.mid", tpq, [TrackSpec(notes)]))
    lit = {pitch: np.flatnonzero(roll[pitch - 21]).tolist() for pitch in (60, 62, 64, 65, 67, 69)}
    assert lit == {60: [0], 62: [0], 64: [1], 65: [1], 67: list(range(4, 12)), 69: [8]}
    assert roll.shape == (N_PITCHES, 12) and roll.sum() == 13 and stats.notes == 6


@pytest.mark.parametrize("tpq", [96, 100, 384, 480, 960])
def test_columns_follow_the_beat_whatever_the_resolution_and_tempo_map(tmp_path, tpq):
    sixteenth = tpq // 4
    notes = [(c * sixteenth, n * sixteenth, p) for c, n, p in [(0, 4, 60), (3, 1, 64), (16, 8, 67), (290, 20, 72)]]
    tempos = [(0, 60.0), (5 * tpq, 200.0), (40 * tpq, 33.0)]
    roll, stats = read_midi(make_midi(tmp_path / "t.mid", tpq, [TrackSpec(notes)], tempos))
    expected = np.zeros((N_PITCHES, 310), dtype=bool)
    expected[60 - 21, 0:4] = expected[64 - 21, 3] = expected[67 - 21, 16:24] = expected[72 - 21, 290:310] = True
    assert np.array_equal(roll, expected)
    assert stats.first_qpm == pytest.approx(60.0) and stats.seconds_per_column == pytest.approx(0.25)
    # the note from column 290 to 309 crosses into window 1
    windows = dict(midi_to_windows(tmp_path / "t.mid").windows)
    assert np.flatnonzero(windows[0][72 - 21]).tolist() == list(range(290, 300))
    assert np.flatnonzero(windows[1][72 - 21]).tolist() == list(range(0, 10))
    assert np.argwhere(windows[1]).tolist() == [[72 - 21, c] for c in range(10)]


def test_tempo_lives_on_its_own_track_in_these_files(tmp_path):
    path = make_midi(tmp_path / "t.mid", 480, [TrackSpec([(0, 480, 60)])], [(0, 90.0), (960, 140.0)])
    tracks = mido.MidiFile(path).tracks
    assert [m.type for m in tracks[0] if m.type == "set_tempo"] == ["set_tempo"] * 2
    assert not any(m.type == "note_on" for m in tracks[0])
    assert not any(m.type == "set_tempo" for m in tracks[1])


def test_sustain_pedal_holds_until_release_or_the_next_strike(tmp_path):
    q = 480
    piano = TrackSpec(
        notes=[(0, q, 60), (0, q, 64), (2 * q, q // 4, 60), (5 * q, q, 67)],
        pedal=[(q // 2, 127), (4 * q, 0), (6 * q, 64)],  # down, up at quarter 4, down again (64 counts as down)
    )
    # No pedal on this track: its notes are not held, but its E4 is the next strike of the piano's E4.
    other = TrackSpec(notes=[(0, q, 72), (2 * q, q // 2, 64), (7 * q, q, 48)])
    path = make_midi(tmp_path / "pedal.mid", q, [piano, other])
    plain, _ = read_midi(path)
    held, _ = read_midi(path, pedal=True)

    def lit(roll, pitch):
        return np.flatnonzero(roll[pitch - 21]).tolist()

    assert [lit(plain, p) for p in (60, 64, 67, 72)] == [[0, 1, 2, 3, 8], [0, 1, 2, 3, 8, 9], [20, 21, 22, 23], [0, 1, 2, 3]]
    # C4 is held up to its next strike at quarter 2; that C4 is held to the release at quarter 4.
    assert lit(held, 60) == list(range(0, 16))
    # E4 is held up to the next strike on the other track, which is not held itself.
    assert lit(held, 64) == list(range(0, 10))
    # G4 ends as the pedal goes down again (never released): held to the piece's end, quarter 8.
    assert lit(held, 67) == list(range(20, 32))
    assert lit(held, 72) == [0, 1, 2, 3]
    assert np.array_equal(held, reference_roll(q, [piano, other], pedal=True)[0])


def test_a_pedal_never_released_holds_to_the_end_of_the_piece(tmp_path):
    q = 96
    spec = TrackSpec(notes=[(0, q, 60), (0, 4 * q, 48)], pedal=[(0, 100)])
    roll, _ = read_midi(make_midi(tmp_path / "p.mid", q, [spec]), pedal=True)
    assert np.flatnonzero(roll[60 - 21]).tolist() == list(range(16))


def test_drum_tracks_and_out_of_range_pitches_are_dropped_and_counted(tmp_path):
    every_pitch = TrackSpec([(p * 120, 120, p) for p in range(128)])  # pitch p at column p
    drums = TrackSpec([(0, 480, 36), (480, 480, 38), (960, 480, 60)], drum=True)
    roll, stats = read_midi(make_midi(tmp_path / "all.mid", 480, [every_pitch, drums]))
    assert roll.shape == (N_PITCHES, 127)  # pitch 126 in column 126 is the last; 127 dropped
    assert np.argwhere(roll).tolist() == [[p - 21, p] for p in range(21, 127)]
    assert (stats.notes, stats.dropped_out_of_range, stats.dropped_drums) == (106, 22, 3)


def test_a_long_silence_does_not_end_the_piece(tmp_path):
    q = 480  # at 120 BPM two minutes are 240 quarter notes = 960 columns
    notes = [(0, q, 60), (250 * q, q, 62), (400 * q, 2 * q, 64)]
    windows, total, stats, *_ = midi_to_windows(make_midi(tmp_path / "gap.mid", q, [TrackSpec(notes)]), columns=300)
    assert [k for k, _ in windows] == [0, 3, 5]  # columns 1000..1003 and 1600..1607
    assert total == 6 and stats.notes == 3
    assert np.argwhere(windows[1][1]).tolist() == [[62 - 21, c] for c in range(100, 104)]
    assert np.argwhere(windows[2][1]).tolist() == [[64 - 21, c] for c in range(100, 108)]


def test_files_without_notes_give_an_empty_roll(tmp_path):
    roll, stats = read_midi(make_midi(tmp_path / "none.mid", 480, []))
    assert roll.shape == (N_PITCHES, 0) and stats.notes == 0
    only_drums = make_midi(tmp_path / "drums.mid", 480, [TrackSpec([(0, 10, 36)], drum=True)])
    windows, total, stats, *_ = midi_to_windows(only_drums)
    assert (windows, total, stats.dropped_drums) == ([], 0, 1)


def test_a_note_beyond_the_longest_piece_is_refused(tmp_path):
    path = make_midi(tmp_path / "far.mid", 96, [TrackSpec([(0, 10, 60), (2**27, 10, 60)])])
    with pytest.raises(PianoganError, match=rf"far\.mid: a note ends at column .* beyond the {MAX_COLUMNS} columns"):
        read_midi(path)


def test_unreadable_files_give_one_line_naming_the_file(tmp_path):
    good = make_midi(tmp_path / "good.mid", 480, [TrackSpec([(i * 240, 240, 60 + i % 12) for i in range(40)])]).read_bytes()
    bad = {
        "empty.mid": b"",
        "random.mid": np.random.default_rng(0).integers(0, 256, 600, dtype=np.uint8).tobytes(),
        "truncated.mid": good[: len(good) // 2],
        "text.mid": b"this is not a MIDI file\n" * 4,
    }
    for name, data in bad.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(PianoganError) as error:
            read_midi(tmp_path / name)
        message = str(error.value)
        assert message.startswith(f"{tmp_path / name}: not a readable MIDI file (") and "\n" not in message
    with pytest.raises(PianoganError, match=r"absent\.mid: no such file"):
        read_midi(tmp_path / "absent.mid")


@pytest.mark.parametrize("name", ["song.Midi", "song.MID", "song.kar", "song"])
def test_midi_is_read_whatever_the_file_is_called(tmp_path, name):
    path = make_midi(tmp_path / name, 480, [TrackSpec([(0, 480, 60)])])
    roll, _ = read_midi(path)
    assert np.argwhere(roll).tolist() == [[39, 0], [39, 1], [39, 2], [39, 3]]


def test_roll_notes_are_the_horizontal_runs():
    roll = np.zeros((N_PITCHES, 10), dtype=bool)
    roll[0, 0:3] = roll[0, 4] = roll[105, 9] = roll[39, :] = True
    rows, first, length = roll_notes(roll)
    assert sorted(zip(rows.tolist(), first.tolist(), length.tolist())) == [(0, 0, 3), (0, 4, 1), (39, 0, 10), (105, 9, 1)]


def test_written_midi_is_a_120_bpm_piano_track_with_exact_ticks(tmp_path):
    roll = np.zeros((N_PITCHES, 12), dtype=bool)
    roll[60 - 21, 0:4] = True  # column 0 is a note like any other
    roll[0, 0] = True
    roll[105, 8:12] = True
    roll[64 - 21, 5] = True
    write_midi(roll, tmp_path / "out.mid", velocity=77)
    midi = mido.MidiFile(tmp_path / "out.mid")
    assert midi.ticks_per_beat == 480
    messages = [m for track in midi.tracks for m in track]
    assert [m.tempo for m in messages if m.type == "set_tempo"] == [500000]  # 120 BPM
    assert [(m.channel, m.program) for m in messages if m.type == "program_change"] == [(0, 0)]
    score = symusic.Score(str(tmp_path / "out.mid"))
    assert len(score.tracks) == 1 and score.tracks[0].program == 0 and not score.tracks[0].is_drum
    notes = sorted((n.time, n.duration, n.pitch, n.velocity) for n in score.tracks[0].notes)
    assert notes == [(0, 120, 21, 77), (0, 480, 60, 77), (600, 120, 64, 77), (960, 480, 126, 77)]


def test_roll_to_score_checks_velocity_and_shape():
    roll = np.ones((N_PITCHES, 2), dtype=bool)
    with pytest.raises(PianoganError, match=r"velocity must be 1..127, got 0"):
        roll_to_score(roll, velocity=0)
    with pytest.raises(PianoganError, match=r"expected a roll of shape"):
        roll_to_score(np.ones((88, 2), dtype=bool))


def pop909_specs(path: Path) -> tuple[int, list[TrackSpec]]:
    """A real file's notes and pedal, as symusic reads them, for the reference."""
    score = symusic.Score(str(path))
    tracks = []
    for track in score.tracks:
        notes = [(n.time, n.duration, n.pitch) for n in track.notes]
        pedal = [(c.time, c.value) for c in track.controls if c.number == 64]
        tracks.append(TrackSpec(notes, pedal, track.is_drum))
    return score.ticks_per_quarter, tracks


@pytest.mark.parametrize("number", [1, 2, 3, 4, 5])
def test_real_pop909_files(tmp_path, pop909_midi, number):
    path = pop909_midi / f"{number:03d}.mid"
    tpq, tracks = pop909_specs(path)
    for pedal in (False, True):
        roll, stats = read_midi(path, pedal=pedal)
        expected, (kept, _, _) = reference_roll(tpq, tracks, pedal)
        assert np.array_equal(roll, expected) and stats.notes == kept > 500
        write_midi(roll, tmp_path / "again.mid")
        assert np.array_equal(read_midi(tmp_path / "again.mid")[0], roll)
    plain = read_midi(path)[0]
    windows, total, *_ = midi_to_windows(path)
    assert_same_windows(windows, reference_windows(plain, 300))
    assert len(windows) == total == math.ceil(plain.shape[1] / 300)

"""Property-based fuzzing of every file reader: MIDI, roll PNGs and dataset archives.

Files are built from plausible parts (events with any delta time, running status, meta and
system-exclusive events; images of every mode and size) and then damaged (bytes flipped,
cut short, garbage added). Whatever the bytes, a reader returns what it promises or raises
``PianoganError``, the one exception the command line turns into one line.
"""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pianogan.data import datasets
from pianogan.errors import PianoganError
from pianogan.io import audio, midi
from pianogan.io.png import read_png
from pianogan.roll import MAX_COLUMNS, N_PITCHES

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def vlq(value: int) -> bytes:
    out = [value & 0x7F]
    while value := value >> 7:
        out.append(0x80 | value & 0x7F)
    return bytes(reversed(out))


DELTAS = st.one_of(st.integers(0, 127), st.integers(0, 1 << 14), st.integers((1 << 27), (1 << 28) - 1))
DATA = st.integers(0, 127)
CHANNEL_EVENTS = st.one_of(
    st.tuples(st.sampled_from([0x80, 0x90, 0xA0, 0xB0, 0xE0]), st.integers(0, 15), DATA, DATA).map(lambda e: bytes([e[0] | e[1], e[2], e[3]])),
    st.tuples(st.sampled_from([0xC0, 0xD0]), st.integers(0, 15), DATA).map(lambda e: bytes([e[0] | e[1], e[2]])),
    st.tuples(DATA, DATA).map(bytes),  # running status: data bytes only
)
META_EVENTS = st.one_of(
    st.binary(max_size=20).map(lambda text: b"\xff\x01" + vlq(len(text)) + text),
    st.integers(1, (1 << 24) - 1).map(lambda tempo: b"\xff\x51\x03" + tempo.to_bytes(3, "big")),
    st.tuples(st.integers(1, 12), st.integers(0, 4)).map(lambda ts: b"\xff\x58\x04" + bytes([ts[0], ts[1], 24, 8])),
    st.binary(max_size=12).map(lambda payload: b"\xf0" + vlq(len(payload) + 1) + payload + b"\xf7"),
)
EVENTS = st.lists(st.tuples(DELTAS, st.one_of(CHANNEL_EVENTS, CHANNEL_EVENTS, META_EVENTS)), max_size=40)


@st.composite
def midi_files(draw) -> bytes:
    """A MIDI file of up to 3 tracks of random events, possibly damaged afterwards."""
    tracks = draw(st.lists(EVENTS, min_size=0, max_size=3))
    division = draw(st.one_of(st.integers(1, 960), st.integers(0, 0xFFFF)))
    body = b""
    for events in tracks:
        data = b"".join(vlq(delta) + event for delta, event in events) + b"\x00\xff\x2f\x00"
        body += b"MTrk" + struct.pack(">I", len(data)) + data
    data = b"MThd" + struct.pack(">IHHH", 6, draw(st.integers(0, 2)), len(tracks), division) + body
    return draw(damaged(data))


@st.composite
def damaged(draw, data: bytes) -> bytes:
    """``data`` as it is, with bytes flipped, cut short or followed by garbage."""
    how = draw(st.sampled_from(["intact", "flipped", "cut", "garbage"]))
    if how == "flipped" and data:
        array = bytearray(data)
        for position in draw(st.lists(st.integers(0, len(data) - 1), min_size=1, max_size=8)):
            array[position] = draw(st.integers(0, 255))
        return bytes(array)
    if how == "cut":
        return data[: draw(st.integers(0, len(data)))]
    if how == "garbage":
        return data + draw(st.binary(min_size=1, max_size=64))
    return data


def check_roll(roll: np.ndarray) -> None:
    assert roll.dtype == bool and roll.ndim == 2 and roll.shape[0] == N_PITCHES and roll.shape[1] <= MAX_COLUMNS


@FUZZ
@given(data=midi_files(), pedal=st.booleans(), align=st.booleans(), columns=st.integers(1, 400))
def test_every_midi_reader_returns_a_roll_or_a_one_line_error(data, pedal, align, columns, tmp_path):
    path = tmp_path / "fuzz.mid"
    path.write_bytes(data)
    try:
        roll, stats = midi.read_midi(path, pedal=pedal, align=align)
    except PianoganError as error:
        assert "\n" not in str(error) and str(path) in str(error)
    else:
        check_roll(roll)
        assert stats.ticks_per_quarter > 0
    try:
        windows = midi.midi_to_windows(path, columns, pedal=pedal, align=align).windows
    except PianoganError:
        pass
    else:
        assert all(w.shape == (N_PITCHES, columns) and w.any() for _, w in windows)
    try:
        piece = audio.load_piece(path)
    except PianoganError as error:
        assert "\n" not in str(error)
    else:
        assert 0 <= piece.end <= audio.MAX_PIECE_SECONDS


@FUZZ
@given(track=st.binary(max_size=400))
def test_the_cheap_tick_bound_is_never_below_a_tracks_end(track):
    """Tracks under the bound are not read event by event, so it must hold for any bytes."""
    data = b"MThd" + struct.pack(">IHHH", 6, 0, 1, 480) + b"MTrk" + struct.pack(">I", len(track)) + track
    ((start, stop),) = midi._track_chunks(data)
    assert midi._tick_bound(np.frombuffer(data, np.uint8)[start:stop]) >= midi._track_end(data, start, stop)


MODES = ["1", "L", "LA", "P", "RGB", "RGBA", "I;16"]


@st.composite
def png_files(draw) -> bytes:
    """A PNG of any mode, mostly 106 rows high, possibly damaged afterwards."""
    from PIL import Image

    mode = draw(st.sampled_from(MODES))
    width = draw(st.integers(1, 320))
    height = draw(st.one_of(st.just(N_PITCHES), st.integers(1, 130)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if mode == "I;16":
        image = Image.fromarray(rng.integers(0, 65536, (height, width)).astype(np.uint16))
    else:
        image = Image.fromarray(rng.integers(0, 256, (height, width), dtype=np.uint8), "L").convert(mode)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return draw(damaged(buffer.getvalue()))


@st.composite
def png_headers(draw) -> bytes:
    """A PNG whose header claims any size, bit depth and colour type, over a little data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    width, height = draw(st.integers(0, 2**31 - 1)), draw(st.one_of(st.just(N_PITCHES), st.integers(0, 2**31 - 1)))
    depth, colour = draw(st.sampled_from([1, 2, 4, 8, 16])), draw(st.sampled_from([0, 2, 3, 4, 6]))
    header = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, draw(st.integers(0, 1)))
    data = zlib.compress(draw(st.binary(max_size=200)))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")


@FUZZ
@given(data=st.one_of(png_files(), png_headers(), st.binary(max_size=300)), threshold=st.floats(0.01, 1.0))
def test_read_png_returns_a_roll_or_a_one_line_error(data, threshold, tmp_path):
    path = tmp_path / "fuzz.png"
    path.write_bytes(data)
    try:
        roll = read_png(path, threshold)
    except PianoganError as error:
        assert "\n" not in str(error) and str(path) in str(error)
    else:
        check_roll(roll)
        assert roll.shape[1] >= 1


@pytest.fixture(scope="module")
def split_file(tmp_path_factory) -> bytes:
    path = tmp_path_factory.mktemp("split") / "train.npz"
    rolls = np.random.default_rng(0).random((5, N_PITCHES, 300)) < 0.05
    datasets.save_split(path, np.packbits(rolls, axis=-1), 300)
    return path.read_bytes()


@FUZZ
@given(seed=st.integers(0, 2**32 - 1), how=st.sampled_from(["flipped", "cut", "garbage"]))
def test_a_damaged_split_file_loads_or_is_a_one_line_error(seed, how, split_file, tmp_path):
    rng = np.random.default_rng(seed)
    data = bytearray(split_file)
    if how == "flipped":
        for position in rng.integers(0, len(data), 6):
            data[position] = int(rng.integers(0, 256))
    elif how == "cut":
        data = data[: int(rng.integers(0, len(data)))]
    else:
        data += rng.bytes(int(rng.integers(1, 64)))
    folder = tmp_path / "dataset"
    folder.mkdir(exist_ok=True)
    (folder / "train.npz").write_bytes(bytes(data))
    try:
        windows = datasets.load_split(folder)
    except PianoganError as error:
        assert "\n" not in str(error) and "train.npz" in str(error)
    else:
        assert windows.dtype == bool and windows.shape[1:] == (N_PITCHES, 300)

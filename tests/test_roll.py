"""The roll format: pitch names, thresholds, windows, PNG files and the picture for people."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image

from pianogan.errors import PianoganError
from pianogan.io.png import read_png, write_png
from pianogan.roll import N_PITCHES, PIANO_ROWS, binarize, check_roll, pitch_name, plot_roll, transpose, transpose_on_piano, windows

FAST = settings(max_examples=100, deadline=None)


def random_rolls(max_width: int = 400):
    return st.integers(1, max_width).flatmap(lambda width: arrays(bool, (N_PITCHES, width)))


@pytest.mark.parametrize(("pitch", "name"), [(21, "A0"), (59, "B3"), (60, "C4"), (61, "C#4"), (69, "A4"), (108, "C8"), (126, "F#9"), (0, "C-1")])
def test_pitch_name(pitch, name):
    assert pitch_name(pitch) == name


def test_binarize_thresholds_and_drops_the_channel_axis():
    values = np.array([0.0, 0.49, 0.5, 0.51, 1.0]).reshape(1, 1, 5, 1)
    assert binarize(values).tolist() == [[[False, False, True, True, True]]]
    assert binarize(values, threshold=0.51).tolist() == [[[False, False, False, True, True]]]
    assert binarize(np.full((2, 106, 300, 1), 0.7)).shape == (2, 106, 300)


def test_check_roll_rejects_other_shapes():
    with pytest.raises(PianoganError, match=r"sample: expected a roll of shape \(106, T>=1\), got \(88, 300\)"):
        check_roll(np.zeros((88, 300)), "sample")
    with pytest.raises(PianoganError):
        check_roll(np.zeros((106, 0)))
    assert check_roll(np.zeros((106, 0)), allow_empty=True).shape == (106, 0)


def test_transposing_on_the_piano_folds_stray_notes_back_by_octaves():
    roll = np.zeros((N_PITCHES, 8), bool)
    roll[0, 0:2] = roll[87, 2:4] = roll[40, 4:8] = True  # A0, C8 and C#4
    up = transpose_on_piano(roll, 2)
    assert np.flatnonzero(up.any(axis=1)).tolist() == [2, 42, 77]  # C8 + 2 = D8 is no key: D7
    assert up[77, 2:4].all() and up[2, 0:2].all()
    down = transpose_on_piano(roll, -2)
    assert np.flatnonzero(down.any(axis=1)).tolist() == [10, 38, 85]  # A0 - 2 = G0 is no key: G1
    assert transpose_on_piano(roll, 14)[77, 2:4].all()  # C8 + 14 = D9: two octaves down


@settings(max_examples=50, deadline=None)
@given(st.integers(-30, 30), st.integers(0, 2**32 - 1))
def test_transposing_on_the_piano_keeps_every_pitch_class_and_the_piano(semitones, seed):
    roll = np.zeros((N_PITCHES, 16), bool)
    roll[:PIANO_ROWS] = np.random.default_rng(seed).random((PIANO_ROWS, 16)) < 0.05
    moved = transpose_on_piano(roll, semitones)
    assert not moved[PIANO_ROWS:].any()

    def classes(r):
        return [np.flatnonzero(r[np.arange(N_PITCHES) % 12 == c].any(axis=0)).tolist() for c in range(12)]

    assert classes(moved) == [classes(roll)[(c - semitones) % 12] for c in range(12)]  # each pitch class sounds when it did
    inside = transpose(roll, semitones)[:PIANO_ROWS]
    assert np.array_equal(moved[:PIANO_ROWS] & inside, inside)  # notes the move keeps on the piano stay where it puts them


def test_windows_keep_index_skip_silence_and_pad_the_last():
    roll = np.zeros((N_PITCHES, 950), dtype=bool)
    roll[0, 0] = True
    roll[5, 299:302] = True  # crosses the border of windows 0 and 1
    roll[105, 949] = True  # last column of the partial window 3
    found = windows(roll)
    assert [k for k, _ in found] == [0, 1, 3]  # window 2 (600..899) is silent
    assert all(window.shape == (N_PITCHES, 300) for _, window in found)
    w0, w1, w3 = (window for _, window in found)
    assert np.argwhere(w0).tolist() == [[0, 0], [5, 299]]
    assert np.argwhere(w1).tolist() == [[5, 0], [5, 1]]
    assert np.argwhere(w3).tolist() == [[105, 349 - 300]]
    assert [k for k, _ in windows(roll, columns=100)] == [0, 2, 3, 9]


def test_windows_of_empty_and_silent_rolls():
    assert windows(np.zeros((N_PITCHES, 0), dtype=bool)) == []
    assert windows(np.zeros((N_PITCHES, 700), dtype=bool)) == []
    with pytest.raises(PianoganError, match=r"must be 1..262144 columns"):
        windows(np.zeros((N_PITCHES, 10), dtype=bool), columns=0)


@FAST
@given(random_rolls(), st.integers(1, 120))
def test_windows_cover_the_roll_exactly(roll, columns):
    expected = {}
    for k in range(-(-roll.shape[1] // columns)):
        window = np.zeros((N_PITCHES, columns), dtype=bool)
        part = roll[:, k * columns : (k + 1) * columns]
        window[:, : part.shape[1]] = part
        if window.any():
            expected[k] = window
    found = windows(roll, columns)
    assert [k for k, _ in found] == list(expected)
    assert all(np.array_equal(window, expected[k]) for k, window in found)


def test_png_pixel_positions_and_format(tmp_path):
    roll = np.zeros((N_PITCHES, 20), dtype=bool)
    roll[60 - 21, 8:12] = True  # C4, columns 8..11
    roll[0, 0] = True  # A0, first column
    path = tmp_path / "roll.png"
    write_png(roll, path)
    with Image.open(path) as image:
        assert image.mode == "L" and image.size == (20, 106)
        pixels = np.asarray(image)
    assert set(np.unique(pixels)) == {0, 255}
    assert np.argwhere(pixels == 255).tolist() == [[0, 0], [39, 8], [39, 9], [39, 10], [39, 11]]
    assert np.array_equal(read_png(path), roll)
    assert [p.name for p in tmp_path.iterdir()] == ["roll.png"]  # no temporary file left


@FAST
@given(random_rolls())
def test_png_round_trip(tmp_path_factory, roll):
    path = tmp_path_factory.mktemp("png") / "r.png"
    write_png(roll, path)
    assert np.array_equal(read_png(path), roll)


def expected_row(width: int = 6) -> np.ndarray:
    """Lit pattern of the test images below: columns 1, 3 and 4 of row 39."""
    roll = np.zeros((N_PITCHES, width), dtype=bool)
    roll[39, [1, 3, 4]] = True
    return roll


def save(tmp_path, name: str, pixels: np.ndarray):
    path = tmp_path / name
    Image.fromarray(pixels).save(path)
    return path


def test_read_rgb_rgba_and_palette_images(tmp_path):
    gray = np.where(expected_row(), 255, 0).astype(np.uint8)
    rgb = np.stack([gray] * 3, axis=-1)
    assert np.array_equal(read_png(save(tmp_path, "rgb.png", rgb)), expected_row())
    alpha = np.zeros_like(gray)  # fully transparent: alpha is ignored
    rgba = np.concatenate([rgb, alpha[..., None]], axis=-1)
    assert np.array_equal(read_png(save(tmp_path, "rgba.png", rgba)), expected_row())
    palette = Image.fromarray(rgb).convert("P")
    palette.save(tmp_path / "p.png")
    assert np.array_equal(read_png(tmp_path / "p.png"), expected_row())
    Image.fromarray(gray).convert("1").save(tmp_path / "bilevel.png")
    assert np.array_equal(read_png(tmp_path / "bilevel.png"), expected_row())


def test_read_16_bit_grayscale(tmp_path):
    pixels = np.zeros((N_PITCHES, 6), dtype=np.uint16)
    pixels[39] = [0, 65535, 32767, 32768, 40000, 100]  # half scale is 32767.5
    path = save(tmp_path, "deep.png", pixels)
    with Image.open(path) as image:
        assert image.mode.startswith("I")
    assert np.array_equal(read_png(path), expected_row())


def test_read_soft_grayscale_at_half_scale_or_a_given_threshold(tmp_path):
    pixels = np.zeros((N_PITCHES, 6), dtype=np.uint8)
    pixels[39] = [127, 128, 15, 223, 200, 0]
    path = save(tmp_path, "soft.png", pixels)
    lit = read_png(path)
    assert np.argwhere(lit).tolist() == [[39, 1], [39, 3], [39, 4]]
    assert np.argwhere(read_png(path, threshold=210 / 255)).tolist() == [[39, 3]]


def test_wrong_height_and_unreadable_files_name_the_file(tmp_path):
    path = save(tmp_path, "short.png", np.zeros((88, 300), dtype=np.uint8))
    with pytest.raises(PianoganError, match=r"short\.png: image is 88 pixels high, a roll must be 106"):
        read_png(path)
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"not a picture")
    with pytest.raises(PianoganError, match=r"junk\.png: not a readable PNG image"):
        read_png(junk)
    with pytest.raises(PianoganError, match=r"missing\.png: no such file"):
        read_png(tmp_path / "missing.png")


def test_write_png_rejects_a_wrong_shape(tmp_path):
    with pytest.raises(PianoganError, match=r"bad.png"):
        write_png(np.zeros((105, 300), dtype=bool), tmp_path / "bad.png")
    assert not any(tmp_path.iterdir())


def test_plot_roll_puts_high_notes_on_top_with_seconds_and_pitch_names():
    from matplotlib.figure import Figure

    roll = np.zeros((N_PITCHES, 32), dtype=bool)
    roll[60 - 21, 0:4] = True  # C4
    roll[84 - 21, 16:20] = True  # C6, in bar 2
    ax = plot_roll(roll, ax=Figure().add_subplot(), title="two notes")
    low, high = ax.get_ylim()
    assert low < high  # y grows upward: pitch 108 above pitch 21
    assert (low, high) == (20.5, 108.5)
    assert ax.get_xlim() == (0.0, 4.0)  # 32 columns of 0.125 s
    labels = dict(zip(ax.get_yticks(), (t.get_text() for t in ax.get_yticklabels())))
    assert labels[60] == "C4" and labels[84] == "C6" and labels[24] == "C1"
    image = ax.images[0]
    rows = np.asarray(image.get_array())
    assert image.origin == "lower" and rows.shape == (88, 32)
    assert np.argwhere(rows[:, 0]).ravel().tolist() == [60 - 21] and rows[84 - 21, 16]
    assert ax.get_xlabel() == "time (s)" and ax.get_title() == "two notes"

"""The listening page and its roll pictures."""

from __future__ import annotations

import re

import numpy as np
from PIL import Image

from pianogan.compose import page
from pianogan.roll import N_PITCHES


def note_pixels(image) -> np.ndarray:
    return np.all(np.asarray(image) == page._NOTE, axis=-1)


def test_picture_puts_high_notes_on_top_and_time_to_the_right():
    roll = np.zeros((N_PITCHES, 300), bool)
    roll[60 - 21, 10:14] = True  # C4, columns 10..13
    roll[96 - 21, 200] = True  # C7, one column
    image = page.picture(roll)
    assert image.size == page.picture_size(300) == (30 + 900 + 12, 7 + 176 + 16)
    ys, xs = np.nonzero(note_pixels(image))
    c7_top = page.MARGIN_TOP + (108 - 96) * page.PX_PER_PITCH
    c4_top = page.MARGIN_TOP + (108 - 60) * page.PX_PER_PITCH
    expected = {(y, x) for y in (c4_top, c4_top + 1) for x in range(page.MARGIN_LEFT + 30, page.MARGIN_LEFT + 42)}
    expected |= {(y, x) for y in (c7_top, c7_top + 1) for x in range(page.MARGIN_LEFT + 600, page.MARGIN_LEFT + 603)}
    assert set(zip(ys.tolist(), xs.tolist())) == expected


def test_picture_of_silence_has_no_notes_and_long_rolls_are_wider(tmp_path):
    assert not note_pixels(page.picture(np.zeros((N_PITCHES, 300), bool))).any()
    page.write_picture(np.zeros((N_PITCHES, 700), bool), tmp_path / "long.png")
    assert Image.open(tmp_path / "long.png").size == page.picture_size(700) == (30 + 2100 + 12, 199)


def summary(wavs: bool = True) -> dict:
    pieces = []
    for k in range(2):
        name = f"piece_00{k}"
        files = {"roll": f"{name}.png", "midi": f"{name}.mid", "picture": f"{name}_roll.png"}
        files["wav"] = f"{name}.wav" if wavs and k == 0 else None
        pieces.append(
            {
                "name": name,
                "files": files,
                "origin": {"seed": 3, "index": k},
                "notes": 120 + k,
                "lit_share": 0.031,
                "columns": 300,
                "seconds": 37.5,
                "latents": [[0.0] * 14],
            }
        )
    options = {"n": 2, "length": 300, "threshold": 0.5, "velocity": 90, "interpolate": None, "audio": wavs}
    return {"model": "models/<odd> & name.keras", "seed": 3, "options": options, "pieces": pieces}


def test_page_shows_every_piece_with_its_player_and_downloads():
    html = page.render_page(summary())
    assert html.count('<section class="piece"') == 2
    assert html.count("<audio controls") == 1 and 'src="piece_000.wav"' in html
    assert 'href="piece_000.wav" download' in html and 'href="piece_001.wav"' not in html
    assert "no audio" in html  # piece_001 has no WAV
    for k in range(2):
        for suffix in (".mid", ".png"):
            assert f'href="piece_00{k}{suffix}" download' in html
        assert f'<img src="piece_00{k}_roll.png" width="942" height="199"' in html
    assert "121 notes" in html and "37.5 s" in html and "3.1% of the roll lit" in html
    assert "models/&lt;odd&gt; &amp; name.keras" in html and "<odd>" not in html
    assert "--seed 4" in html  # how to make more: the next seed


def test_page_is_self_contained():
    html = page.render_page(summary(wavs=False))
    assert not re.search(r"https?://", html)
    assert "<script" not in html and "<link" not in html and "@import" not in html
    assert "<audio" not in html


def test_interpolation_page_says_where_each_piece_lies():
    data = summary()
    data["seed"] = None
    data["options"]["interpolate"] = [2, 9]
    for k, record in enumerate(data["pieces"]):
        record["origin"] = {"from_seed": 2, "to_seed": 9, "t": float(k)}
    html = page.render_page(data)
    assert "from seed 2 to seed 9 in 2 steps" in html
    assert "t = 0 from seed 2 to 9" in html and "t = 1 from seed 2 to 9" in html

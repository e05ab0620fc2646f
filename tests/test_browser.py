"""The web app in a real browser: load, move a slider, play, download, keep and morph, upload."""

from __future__ import annotations

import numpy as np
import pytest
import symusic
from browser import browser_page, why_no_browser
from serving import live_server

import pianogan
from pianogan.io.midi import read_midi

reason = why_no_browser()
pytestmark = pytest.mark.skipif(reason is not None, reason=reason or "")


@pytest.fixture(scope="module")
def page(model_path):
    with live_server(model_path) as url, browser_page() as page:
        page.goto(url + "/")
        page.wait_for_function("Number(document.getElementById('roll').dataset.version) >= 1")
        yield page
        assert page.errors == []


def version(page) -> int:
    return int(page.get_attribute("#roll", "data-version"))


def settle(page, before: int) -> None:
    """Wait until the roll was redrawn since version ``before`` and no request is under way,
    so that it shows the latest input (an input can start two requests, whose answers land
    in order)."""
    page.wait_for_function(f"Number(document.getElementById('roll').dataset.version) > {before} && document.body.dataset.busy === '0'")


def roll_pixels(page) -> str:
    return page.evaluate("document.getElementById('roll').toDataURL()")


def test_moving_a_slider_redraws_the_roll(page):
    before, pixels = version(page), roll_pixels(page)
    page.focus("#z3")
    page.keyboard.press("End")  # z4 to its maximum, as a person would with the keyboard
    settle(page, before)
    assert page.input_value("#z3") == "4"
    assert roll_pixels(page) != pixels and int(page.get_attribute("#roll", "data-notes")) > 0


def test_play_starts_sound(page):
    page.click("#play")
    page.wait_for_function("window.pianogan.level() > 0.001")
    assert page.get_attribute("body", "data-sound") == "playing"
    assert page.evaluate("window.pianogan.soundStarts.length") >= 1
    page.click("#play")
    assert page.get_attribute("body", "data-sound") == "stopped"


def test_the_midi_download_is_the_piece_on_screen(page, tmp_path):
    page.fill("#seed", "4")
    before = version(page)
    page.dispatch_event("#seed", "change")
    settle(page, before)
    with page.expect_download() as download:
        page.click("#dl-midi")
    path = tmp_path / download.value.suggested_filename
    download.value.save_as(path)
    _, stats = read_midi(path)
    assert path.name == "pianogan-seed4.mid" and stats.notes == int(page.get_attribute("#roll", "data-notes"))
    assert symusic.Score(str(path)).tempos[0].qpm == 120


def test_kept_pieces_morph_from_one_to_the_other(page):
    page.click("#keep")
    page.fill("#seed", "9")
    before = version(page)
    page.dispatch_event("#seed", "change")
    settle(page, before)
    second = roll_pixels(page)
    page.click("#keep")
    assert page.locator("#list li").count() == 2
    page.select_option("#morph-a", "0")
    page.select_option("#morph-b", "1")
    for t in ("0", "1"):
        before = version(page)
        page.fill("#morph-t", t)  # sets the range and fires its input event
        settle(page, before)
        if t == "0":
            assert roll_pixels(page) != second
    assert roll_pixels(page) == second


def test_uploading_a_midi_file_shows_the_nearest_piece_and_its_iou(page, model_path, tmp_path):
    mine = pianogan.load_generator(model_path).sample(1, seed=12)[0].to_midi(tmp_path / "mine.mid")
    page.set_input_files("#upload", str(mine))
    page.wait_for_function("document.getElementById('vary').dataset.iou !== undefined", timeout=60_000)
    assert float(page.get_attribute("#vary", "data-iou")) > 0.8
    assert "IoU" in page.text_content("#nearest-caption") and page.is_visible("#nearest-roll")
    page.click("#vary-nearest")
    page.wait_for_function("document.querySelectorAll('#variations canvas').length === 4")
    before = version(page)
    page.click("#use-nearest")
    settle(page, before)
    nearest = page.evaluate("[...document.querySelectorAll('#sliders input')].map((input) => Number(input.value))")
    assert np.allclose(nearest, [float(v) for v in page.get_attribute("#vary", "data-latent").split(",")], atol=0.006)

"""``io.inputs``: which files a batch command takes, and output names that never clash."""

from __future__ import annotations

import pytest

from pianogan.errors import OutputError, PianoganError
from pianogan.io.inputs import MIDI_SUFFIXES, batch_inputs, find_inputs, output_stems, stays_inside


def touch(*paths):
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")


def test_folders_are_searched_in_order_skipping_hidden_files_and_duplicates(tmp_path):
    touch(tmp_path / "b.MID", tmp_path / "a.mid", tmp_path / "sub" / "c.midi", tmp_path / ".hidden" / "d.mid", tmp_path / "._e.mid", tmp_path / "notes.txt")
    given = tmp_path / "notes.txt"  # a file named outright is taken, whatever its extension
    files, problems = find_inputs([tmp_path, tmp_path / "a.mid", given, tmp_path / "gone.mid"], MIDI_SUFFIXES)
    assert files == [tmp_path / "a.mid", tmp_path / "b.MID", tmp_path / "sub" / "c.midi", given]
    assert problems == [f"{tmp_path / 'gone.mid'}: no such file or folder"]


@pytest.mark.parametrize(
    ("name", "inside"), [("a.mid", True), ("x/y.mid", True), ("", False), ("/etc/passwd", False), ("../up.mid", False), ("x/../../up", False)]
)
def test_stays_inside(name, inside):
    assert stays_inside(name) is inside


def test_stems_sharing_a_name_are_named_after_their_path(tmp_path):
    files = [tmp_path / "bach" / "prelude.mid", tmp_path / "chopin" / "Prelude.mid", tmp_path / "fugue.mid"]
    assert output_stems(files) == {files[0]: "bach-prelude", files[1]: "chopin-Prelude", files[2]: "fugue"}


def test_stems_that_still_clash_are_an_error(tmp_path):
    with pytest.raises(OutputError, match=r"song.mid and .*song.midi would write outputs with the same name \('song'\); rename one of them$"):
        output_stems([tmp_path / "song.mid", tmp_path / "song.midi"])


def test_batch_inputs_checks_the_output_folder_and_finds_something(tmp_path):
    touch(tmp_path / "in" / "a.mid", tmp_path / "file")
    out_dir, files, stems, missing = batch_inputs([tmp_path / "in"], MIDI_SUFFIXES, tmp_path / "out", ".mid")
    assert (out_dir, files, stems, missing) == (tmp_path / "out", [tmp_path / "in" / "a.mid"], {tmp_path / "in" / "a.mid": "a"}, [])
    with pytest.raises(OutputError, match=r"file: it is a file, not a folder$"):
        batch_inputs([tmp_path / "in"], MIDI_SUFFIXES, tmp_path / "file", ".mid")
    with pytest.raises(PianoganError, match=r"^no .png files found in "):
        batch_inputs([tmp_path / "in"], (".png",), tmp_path / "out", ".png")

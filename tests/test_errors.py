"""The error classes: one line naming the parameter, which the command line shows as its flag."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from pianogan import cli
from pianogan.errors import AudioError, MidiError, OptionError, PianoganError, ShapeError
from pianogan.evaluation import metrics
from pianogan.roll import check_roll


def test_the_library_names_parameters_and_the_cli_flags():
    error = OptionError("n", "must be at least 1, got 0")
    assert str(error) == "n must be at least 1, got 0" and error.parameter == "n"
    assert cli.message(error) == "--n must be at least 1, got 0"
    assert cli.message(OptionError("qpm", "must be 20..400")) == "--bpm must be 20..400"
    assert cli.message(OptionError("key_mode", "must be one of a, b")) == "--key-mode must be one of a, b"
    colon = OptionError("splits", ": x.csv: no such file")
    assert str(colon) == "splits: x.csv: no such file" and cli.message(colon) == "--splits: x.csv: no such file"


def test_other_parameters_a_message_mentions_are_shown_the_same_way():
    error = OptionError("interpolate", "needs {n} of at least 2 pieces, got 1", mentions=["n"])
    assert str(error) == "interpolate needs n of at least 2 pieces, got 1"
    assert cli.message(error) == "--interpolate needs --n of at least 2 pieces, got 1"
    hint = AudioError("no SoundFont found: pass {soundfont}=FILE.sf2", mentions=["soundfont"])
    assert cli.message(hint) == "no SoundFont found: pass --soundfont=FILE.sf2"


def test_errors_survive_a_worker_process_and_renaming():
    for error in (OptionError("n", "must be at least 1"), MidiError("/tmp/x.mid: no notes"), PianoganError("plain")):
        copy = pickle.loads(pickle.dumps(error))
        assert type(copy) is type(error) and str(copy) == str(error) and cli.message(copy) == cli.message(error)
    renamed = MidiError("/tmp/abc/song.mid: not a readable MIDI file").renamed("/tmp/abc/song.mid", "song.mid")
    assert isinstance(renamed, MidiError) and str(renamed) == "song.mid: not a readable MIDI file"


def test_a_bad_shape_is_the_same_error_in_roll_and_metrics():
    for call in (lambda: check_roll([[True]]), lambda: metrics.pitch_range(np.zeros((88, 16), bool))):
        with pytest.raises(ShapeError):
            call()
    assert issubclass(ShapeError, ValueError) and issubclass(ShapeError, PianoganError)

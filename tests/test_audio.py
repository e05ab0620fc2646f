"""MIDI -> WAV: both renderers on short pieces made here, the batch, the errors, the CLI."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest
import symusic

from pianogan.cli import main
from pianogan.errors import PianoganError
from pianogan.io import audio

RATE = 44100
SCALE = [60, 62, 64, 65, 67, 69, 71, 72]  # C major, C4..C5, one note every 0.25 s
STEP = 0.25
CHORD = [60, 64, 67]  # C major triad from 0.5 s to 1.5 s, silence before
CHORD_START, CHORD_END = 0.5, 1.5
PEAK = round(10 ** (audio.PEAK_DBFS / 20) * 32767)  # 29204: every file's exact peak
QUIET = round(PEAK * 10 ** (audio.SILENCE_DB / 20)) + 1  # the tail is cut below this level

needs_fluidsynth = pytest.mark.skipif(audio.fluidsynth_binary() is None, reason="fluidsynth not installed")
# The fallback is tested with the SoundFont that pip ships, as on a machine without Debian's.
RENDERERS = [
    pytest.param("fluidsynth", None, marks=needs_fluidsynth, id="fluidsynth"),
    pytest.param("fallback", audio._pip_soundfont(), id="fallback-TimGM6mb"),
]


def write_piece(path: Path, notes: list[tuple[float, float, int]], tpq: int = 480) -> Path:
    """A one-track piano MIDI file at 120 BPM from (start s, duration s, pitch) triples."""
    score = symusic.Score(tpq)
    track = symusic.Track("piano", 0, False)
    for start, duration, pitch in notes:
        track.notes.append(symusic.Note(round(start * 2 * tpq), round(duration * 2 * tpq), pitch, 90))
    score.tracks.append(track)
    score.tempos.append(symusic.Tempo(0, 120.0))
    score.dump_midi(str(path))
    return path


@pytest.fixture(scope="module")
def pieces(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("midi")
    corrupt = folder / "corrupt.mid"
    corrupt.write_bytes(b"MThd\x00\x00\x00\x06\x00\x01\x00\x01\x01\xe0MTrk\x00\x00\x10\x00\x90")
    return {
        "scale": write_piece(folder / "scale.mid", [(i * STEP, STEP, p) for i, p in enumerate(SCALE)]),
        "chord": write_piece(folder / "chord.mid", [(CHORD_START, CHORD_END - CHORD_START, p) for p in CHORD]),
        "corrupt": corrupt,
    }


def read_pcm(path: Path) -> tuple[np.ndarray, wave._wave_params]:
    with wave.open(str(path), "rb") as f:
        params = f.getparams()
        frames = np.frombuffer(f.readframes(f.getnframes()), dtype="<i2").reshape(-1, params.nchannels)
    return frames.astype(np.int32), params


def rms(frames: np.ndarray) -> float:
    return float(np.sqrt(np.mean(frames.astype(np.float64) ** 2)))


@pytest.mark.parametrize(("renderer", "soundfont"), RENDERERS)
def test_scale_is_16bit_stereo_normalised_with_each_note_in_place(pieces, tmp_path, renderer, soundfont):
    result = audio.render_midi(pieces["scale"], tmp_path / "scale.wav", soundfont, RATE, renderer)
    pcm, params = read_pcm(tmp_path / "scale.wav")
    assert (params.nchannels, params.sampwidth, params.framerate, params.comptype) == (2, 2, RATE, "NONE")
    assert result.wav == tmp_path / "scale.wav" and result.seconds == len(pcm) / RATE
    # Length: the piece (8 x 0.25 s) plus a release tail. A piano note takes more than
    # 0.1 s to fade, and both fonts' pianos (with FluidSynth's reverb) are 60 dB down
    # within 0.6 s measured, so the tail is cut well before the 2 s cap.
    end = len(SCALE) * STEP
    assert end + 0.1 < len(pcm) / RATE < end + 1.0
    assert np.abs(pcm).max() == PEAK  # normalised to -1 dBFS: loud, and far from clipping
    mono = pcm.mean(axis=1) / 32768
    freqs = np.fft.rfftfreq(1 << 16, 1 / RATE)
    for i, pitch in enumerate(SCALE):
        note = mono[round((i * STEP + 0.02) * RATE) : round((i + 1) * STEP * RATE)]
        assert rms(note) > 0.05  # every note sounds: above -26 dBFS
        # Its strongest partial is the note's fundamental or an octave of it (TimGM6mb's
        # low piano notes are loudest at the 2nd harmonic): the right pitch at the right time.
        strongest = freqs[np.argmax(np.abs(np.fft.rfft(note * np.hanning(len(note)), 1 << 16)))]
        octaves = np.log2(strongest / (440 * 2 ** ((pitch - 69) / 12)))
        assert abs(octaves - round(octaves)) < 0.03, (pitch, strongest)
    assert np.abs(pcm[-round(0.02 * RATE) :]).max() <= QUIET  # ends faded to near silence


@pytest.mark.parametrize(("renderer", "soundfont"), RENDERERS)
def test_chord_has_silence_before_energy_during_and_a_faded_tail(pieces, tmp_path, renderer, soundfont):
    audio.render_midi(pieces["chord"], tmp_path / "chord.wav", soundfont, RATE, renderer)
    pcm, _ = read_pcm(tmp_path / "chord.wav")
    assert np.abs(pcm[: round((CHORD_START - 0.01) * RATE)]).max() == 0  # digital silence before it
    assert rms(pcm[round((CHORD_START + 0.05) * RATE) : round(CHORD_END * RATE)]) > 0.05 * 32768
    assert CHORD_END + 0.1 < len(pcm) / RATE < CHORD_END + 1.0
    assert rms(pcm[-round(0.1 * RATE) :]) < 0.001 * 32768  # the last 0.1 s: below -60 dBFS
    assert np.abs(pcm[-round(0.02 * RATE) :]).max() <= QUIET


@pytest.mark.parametrize(("renderer", "soundfont"), RENDERERS)
def test_rate_option_sets_the_sample_rate(pieces, tmp_path, renderer, soundfont):
    result = audio.render_midi(pieces["chord"], tmp_path / "chord.wav", soundfont, 22050, renderer)
    pcm, params = read_pcm(result.wav)
    assert params.framerate == 22050
    assert CHORD_END + 0.1 < len(pcm) / 22050 < CHORD_END + 1.0


@pytest.mark.parametrize(("renderer", "soundfont"), RENDERERS)
def test_batch_renders_the_good_files_and_reports_the_corrupt_one(pieces, tmp_path, renderer, soundfont):
    inputs = [pieces["scale"], pieces["corrupt"], pieces["chord"]]
    results = audio.render_many(inputs, tmp_path / "wav", soundfont, RATE, renderer, progress=False)
    assert [r.midi for r in results] == inputs
    assert [r.wav for r in results] == [tmp_path / "wav" / "scale.wav", None, tmp_path / "wav" / "chord.wav"]
    assert results[1].error.startswith(f"{pieces['corrupt']}: not a readable MIDI file (")
    assert "\n" not in results[1].error
    assert sorted(p.name for p in (tmp_path / "wav").iterdir()) == ["chord.wav", "scale.wav"]  # no temp left
    # Batched and alone give the same piece: same length within a FluidSynth block (64
    # frames), same loudness where the chord plays.
    alone = audio.render_midi(pieces["chord"], tmp_path / "alone.wav", soundfont, RATE, renderer)
    batched, _ = read_pcm(results[2].wav)
    single, _ = read_pcm(alone.wav)
    assert abs(len(batched) - len(single)) <= 64
    during = slice(round((CHORD_START + 0.05) * RATE), round(CHORD_END * RATE))
    assert rms(batched[during]) == pytest.approx(rms(single[during]), rel=0.02)


def test_a_failing_fluidsynth_is_reported_per_file(pieces, tmp_path, monkeypatch):
    monkeypatch.setattr(audio, "fluidsynth_binary", lambda: "false")  # exits 1, writes nothing
    results = audio.render_many([pieces["scale"], pieces["chord"]], tmp_path, renderer="fluidsynth", progress=False)
    assert [r.error for r in results] == [f"{pieces[name]}: fluidsynth failed: exit code 1" for name in ("scale", "chord")]
    assert list(tmp_path.iterdir()) == []


def test_joined_midi_places_each_piece_at_its_millisecond_offset(pieces):
    scale, chord = audio.load_piece(pieces["scale"]), audio.load_piece(pieces["chord"])
    joined = symusic.Score.from_midi(audio._joined_midi([scale, chord], np.array([0, 5000, 9000]))).to("second")
    notes = sorted((round(n.start, 4), round(n.end, 4), n.pitch) for t in joined.tracks for n in t.notes)
    expected = [(i * STEP, (i + 1) * STEP, p) for i, p in enumerate(SCALE)]
    expected += [(5 + CHORD_START, 5 + CHORD_END, p) for p in CHORD]
    assert notes == sorted(expected)
    resets = [c.time for t in joined.tracks for c in t.controls if c.number == 120 and c.time > 0]
    assert set(np.round(resets, 4)) == {5.0 - audio.GAP_SECONDS / 2}  # between the pieces only
    assert round(joined.end(), 4) == 9.0  # the player runs through the last tail


def test_sustain_pedal_delays_note_offs_for_the_fallback():
    on, off, cc = audio._ON, audio._OFF, audio._CONTROL
    events = [
        (0.0, cc, 0, 64, 127),
        (0.0, on, 0, 60, 90),
        (0.5, off, 0, 60, 0),  # released under the pedal: rings on
        (0.6, on, 0, 62, 90),
        (0.7, off, 0, 62, 0),
        (1.0, cc, 0, 64, 0),  # pedal up: both stop here
        (1.2, on, 0, 64, 90),
        (1.4, off, 0, 64, 0),  # pedal up: stops at once
    ]
    assert list(audio._sustained(events)) == [
        (0.0, on, 0, 60, 90),
        (0.6, on, 0, 62, 90),
        (1.0, off, 0, 60, 0),
        (1.0, off, 0, 62, 0),
        (1.2, on, 0, 64, 90),
        (1.4, off, 0, 64, 0),
    ]


def test_midi2audio_compatible_class(pieces, tmp_path):
    synth = audio.FluidSynth(sample_rate=22050)
    assert synth.midi_to_audio(str(pieces["chord"]), str(tmp_path / "c.wav")) == tmp_path / "c.wav"
    assert read_pcm(tmp_path / "c.wav")[1].framerate == 22050
    audio.FluidSynth(str(audio._pip_soundfont())).midi_to_audio(pieces["scale"], tmp_path / "s.wav")
    assert read_pcm(tmp_path / "s.wav")[1].framerate == 44100
    with pytest.raises(PianoganError, match=r"s\.flac: only \.wav output"):
        audio.FluidSynth().midi_to_audio(pieces["scale"], tmp_path / "s.flac")


def test_missing_soundfont_is_a_one_line_error(pieces, tmp_path, capsys):
    with pytest.raises(PianoganError) as error:
        audio.render_midi(pieces["scale"], tmp_path / "x.wav", soundfont=tmp_path / "missing.sf2")
    assert str(error.value) == f"soundfont {tmp_path / 'missing.sf2'}: no such file"
    code = main(["midi2wav", str(pieces["scale"]), "-o", str(tmp_path), "--soundfont", str(pieces["scale"])])
    assert code == 2
    assert capsys.readouterr().err == f"pianogan midi2wav: error: soundfont {pieces['scale']}: not a SoundFont 2 file\n"
    assert not (tmp_path / "scale.wav").exists()


def test_soundfont_search_order(tmp_path, monkeypatch):
    fonts = {}
    for name in ("explicit", "env", "debian1", "debian2"):
        fonts[name] = tmp_path / f"{name}.sf2"
        fonts[name].write_bytes(b"RIFF\x04\x00\x00\x00sfbk")
    monkeypatch.setattr(audio, "DEBIAN_SOUNDFONTS", (tmp_path / "absent.sf2", fonts["debian1"], fonts["debian2"]))
    monkeypatch.setenv(audio.ENV_SOUNDFONT, str(fonts["env"]))
    assert audio.find_soundfont(fonts["explicit"]) == fonts["explicit"]
    assert audio.find_soundfont() == fonts["env"]
    monkeypatch.setenv(audio.ENV_SOUNDFONT, str(tmp_path / "gone.sf2"))
    with pytest.raises(PianoganError, match=r"gone.sf2: no such file"):
        audio.find_soundfont()  # a font the user named is never silently replaced
    monkeypatch.delenv(audio.ENV_SOUNDFONT)
    assert audio.find_soundfont() == fonts["debian1"]
    monkeypatch.setattr(audio, "DEBIAN_SOUNDFONTS", (tmp_path / "absent.sf2",))
    pip_font = audio.find_soundfont()
    assert (pip_font.name, pip_font.parent.name) == ("TimGM6mb.sf2", "pretty_midi")


def test_auto_falls_back_without_fluidsynth(monkeypatch):
    monkeypatch.setattr(audio, "fluidsynth_binary", lambda: None)
    assert audio.choose_renderer("auto") == "fallback"
    with pytest.raises(PianoganError, match=r"^renderer fluidsynth: fluidsynth is not installed"):
        audio.choose_renderer("fluidsynth")
    with pytest.raises(PianoganError, match=r"^renderer timidity: choose one of auto, fluidsynth, fallback$"):
        audio.choose_renderer("timidity")


def test_folders_are_searched_recursively_for_midi_in_any_case(tmp_path):
    for name in ("a.mid", "sub/b.MID", "sub/deeper/c.midi", "notes.txt", "sub/.d.mid.tmp.mid"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    files, errors = audio.midi_files([tmp_path, tmp_path / "a.mid", tmp_path / "nowhere"])
    assert files == [tmp_path / "a.mid", tmp_path / "sub/b.MID", tmp_path / "sub/deeper/c.midi"]
    assert [e.error for e in errors] == [f"{tmp_path / 'nowhere'}: no such file or folder"]


def test_bad_inputs_get_one_line_errors(pieces, tmp_path):
    empty = write_piece(tmp_path / "empty.mid", [])
    text = tmp_path / "readme.txt"
    text.write_text("not music, and long enough to be parsed")
    twin = tmp_path / "other" / "scale.mid"
    twin.parent.mkdir()
    twin.write_bytes(pieces["scale"].read_bytes())
    endless = write_piece(tmp_path / "endless.mid", [(3700.0, 1.0, 60)])  # a corrupt time stamp, say
    inputs = [empty, text, pieces["scale"], twin, endless]
    errors = [r.error for r in audio.render_many(inputs, tmp_path / "wav", progress=False)]
    assert errors[0] == f"{empty}: no notes to render"
    assert errors[1].startswith(f"{text}: not a readable MIDI file (")
    assert errors[2] is None
    assert errors[3] == f"{twin}: same output {tmp_path / 'wav' / 'scale.wav'} as {pieces['scale']}; rename one"
    assert errors[4] == f"{endless}: lasts 3701 s; pieces over 3600 s are refused"
    with pytest.raises(PianoganError, match=r"^rate 100: choose a sample rate from 8000 to 96000 Hz$"):
        audio.render_many([pieces["scale"]], tmp_path, rate=100)


def test_read_wav_is_channels_first_float(pieces, tmp_path):
    result = audio.render_midi(pieces["chord"], tmp_path / "c.wav", audio._pip_soundfont(), RATE, "fallback")
    data, rate = audio.read_wav(result.wav)
    pcm, _ = read_pcm(result.wav)
    assert rate == RATE and data.dtype == np.float32 and data.shape == (2, len(pcm))
    np.testing.assert_array_equal(data, pcm.T / 32768)


def test_finish_keeps_the_piece_cuts_the_tail_and_caps_it():
    rate = 1000
    tone = np.sin(np.arange(3000) * 0.3)[:, None].repeat(2, axis=1).astype(np.float32)
    tone[1500:] *= 10 ** (-80 / 20)  # 80 dB down from 1.5 s: below the -60 dB cut
    assert len(audio.finish(tone, end=1.0, rate=rate)) == 1500  # the tail ends where it fades
    assert len(audio.finish(tone, end=2.0, rate=rate)) == 2000  # never shorter than the piece
    loud = np.ones((10_000, 2), np.float32)
    assert len(audio.finish(loud, end=1.0, rate=rate)) == round((1.0 + audio.TAIL_SECONDS) * rate)
    assert np.abs(audio.finish(loud, 1.0, rate)).max() == PEAK
    with pytest.raises(ValueError, match=r"rendered silence"):
        audio.finish(np.zeros((100, 2), np.float32), 0.05, rate)


def test_cli_renders_a_folder_and_reports_the_bad_file(pieces, tmp_path, capsys):
    out = tmp_path / "wav"
    code = main(["midi2wav", str(pieces["scale"].parent), "-o", str(out), "--renderer", "fallback"])
    captured = capsys.readouterr()
    assert code == 0
    font = audio.find_soundfont().name
    assert captured.out == f"rendered 2 files with fallback ({font}) into {out}; 1 failed\n"
    bad = [line for line in captured.err.splitlines() if "error" in line]
    assert len(bad) == 1 and bad[0].startswith(f"pianogan midi2wav: error: {pieces['corrupt']}: not a readable")
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == ["chord.wav", "scale.wav"]
    assert main(["midi2wav", str(pieces["corrupt"]), "-o", str(out)]) == 2


@needs_fluidsynth
def test_cli_says_fluidsynth_rendered(pieces, tmp_path, capsys):
    code = main(["midi2wav", str(pieces["chord"]), "-o", str(tmp_path), "--soundfont", str(audio._pip_soundfont())])
    assert code == 0
    assert capsys.readouterr().out == f"rendered 1 file with fluidsynth (TimGM6mb.sf2) into {tmp_path}\n"


def test_a_real_pop909_song_with_tempo_map_pedal_and_three_tracks(pop909_midi, tmp_path):
    score = symusic.Score(str(pop909_midi / "001.mid"))
    score = score.clip(0, 40 * score.tpq, clip_end=True)  # its first 10 bars keep the test short
    assert len(score.tracks) == 3 and any(len(t.pedals) for t in score.tracks)
    score.dump_midi(str(tmp_path / "001.mid"))
    end = score.to("second").end()
    result = audio.render_midi(tmp_path / "001.mid", tmp_path / "001.wav")
    pcm, params = read_pcm(result.wav)
    assert end <= len(pcm) / params.framerate <= end + audio.TAIL_SECONDS
    assert np.abs(pcm).max() == PEAK

"""Voices: melody, bridge and accompaniment kept apart from MIDI to the discriminator, merged by OR for everyone else."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import write_tracks

from pianogan.cli import main
from pianogan.data import batches, datasets
from pianogan.errors import DatasetError
from pianogan.io import midi
from pianogan.models import architectures, gan, modelio, portable
from pianogan.roll import VOICES
from pianogan.training import train
from pianogan.training.config import recipe_config

MELODY, BRIDGE, ACCOMPANIMENT = (1 << i for i in range(len(VOICES)))


def pop_song(rng: np.random.Generator, bars: int = 40) -> dict[str, list[tuple[int, int, int]]]:
    """POP909's three tracks: a stepwise tune, an answering bridge line, and block chords on every beat."""
    melody, bridge, piano = [], [], []
    pitch = 72
    for bar in range(bars):
        root = 48 + [0, 7, 9, 5][bar % 4]
        for beat in range(4):
            piano.extend((bar * 16 + beat * 4, 4, root + step) for step in (0, 4, 7))
        if bar % 4 < 3:
            for note in range(4):
                pitch = int(np.clip(pitch + rng.integers(-2, 3), 67, 79))
                melody.append((bar * 16 + note * 4, 4, pitch))
        else:
            bridge.append((bar * 16, 16, 64))
    return {"MELODY": melody, "BRIDGE": bridge, "PIANO": piano}


def test_tracks_named_as_pop909_names_them_become_voices(tmp_path):
    path = write_tracks(tmp_path / "song.mid", {"MELODY": [(0, 4, 72)], "BRIDGE": [(4, 4, 64)], "PIANO": [(0, 8, 48), (0, 4, 72)]})
    masks, stats = midi.read_midi(path, voices=True)
    merged, _ = midi.read_midi(path)
    assert masks.dtype == np.uint8 and stats.melody_from == "tracks"
    assert np.array_equal(masks > 0, merged)
    assert masks[72 - 21, 0] == MELODY | ACCOMPANIMENT  # a pitch two voices share sounds in both
    assert masks[64 - 21, 4] == BRIDGE and masks[48 - 21, 0] == ACCOMPANIMENT


def test_without_a_melody_track_the_top_voice_is_the_melody(tmp_path):
    path = write_tracks(tmp_path / "piano.mid", {"Piano": [(0, 8, 48), (0, 4, 60), (4, 4, 67)]})
    masks, stats = midi.read_midi(path, voices=True)
    assert stats.melody_from == "top voice"
    assert masks[60 - 21, :4].tolist() == [MELODY] * 4 and masks[67 - 21, 4:8].tolist() == [MELODY] * 4
    assert masks[48 - 21, :8].tolist() == [ACCOMPANIMENT] * 8  # under the tune, the accompaniment


@pytest.fixture(scope="module")
def voiced(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("voiced")
    rng = np.random.default_rng(0)
    for i in range(3):
        write_tracks(root / "midi" / f"song{i}.mid", pop_song(rng))
    write_tracks(root / "midi" / "plain.mid", {"Piano": [(c * 4, 4, 60 + c % 5) for c in range(160)]})
    assert main(["prepare", str(root / "midi"), "-o", str(root / "ds"), "--voices", "--jobs", "1"]) == 0
    return root / "ds"


def test_a_voiced_dataset_holds_each_windows_voices_beside_its_roll(voiced):
    report = json.loads((voiced / datasets.REPORT).read_text())
    assert report["voices"] == {"names": list(VOICES), "melody_from_tracks": 3, "melody_from_top_voice": 1}
    rolls, masks = datasets.load_split(voiced, "train"), datasets.load_voice_masks(voiced, "train")
    assert masks.shape == rolls.shape and np.array_equal(masks > 0, rolls)
    for bit in (MELODY, BRIDGE, ACCOMPANIMENT):
        assert (masks & bit).any()


def test_a_dataset_without_voices_says_how_to_make_one(tmp_path, voiced):
    plain = tmp_path / "plain"
    assert main(["prepare", str(voiced.parent / "midi"), "-o", str(plain), "--jobs", "1"]) == 0
    with pytest.raises(DatasetError, match="--voices"):
        datasets.load_voice_masks(plain, "train")


def test_roll_images_cannot_be_voiced(tmp_path, capsys):
    from pianogan.io.png import write_png

    write_png(np.eye(106, 300, dtype=bool), tmp_path / "pngs" / "a.png")
    assert main(["prepare", str(tmp_path / "pngs"), "-o", str(tmp_path / "ds"), "--voices"]) != 0
    error = capsys.readouterr().err
    assert "--voices needs MIDI files" in error and len(error.strip().splitlines()) == 1


def test_the_discriminator_sees_the_merged_roll_then_each_voice():
    masks = np.zeros((1, 106, 4), dtype=np.uint8)
    masks[0, 10, :2] = MELODY | ACCOMPANIMENT
    masks[0, 3, 3] = BRIDGE
    channels = batches.d_channels(masks)
    assert channels.shape == (1, 106, 4, 1 + len(VOICES)) and channels.dtype == np.float32
    assert channels[0, 10, :, 0].tolist() == [1, 1, 0, 0] and channels[0, 10, 0, 1:].tolist() == [1, 0, 1]
    assert channels[0, 3, 3].tolist() == [1, 0, 1, 0]
    assert batches.d_channels(masks > 0).shape == (1, 106, 4, 1)
    lead_and_rest = batches.d_channels(masks, architectures.VOICE_GROUPS["bars-lead-voices"])  # melody | bridge or accompaniment
    assert lead_and_rest.shape == (1, 106, 4, 3)
    assert lead_and_rest[0, 10, 0].tolist() == [1, 1, 1] and lead_and_rest[0, 3, 3].tolist() == [1, 0, 1]


def test_the_lead_voices_generator_writes_the_lead_and_the_accompaniment_apart():
    generator, discriminator = architectures.build("bars-lead-voices")
    z = np.random.default_rng(5).standard_normal((4, 14)).astype("float32")
    out = np.asarray(generator(z))
    assert out.shape == (4, 106, 300, 3)
    np.testing.assert_array_equal(out[..., 0], out[..., 1:].max(axis=-1))
    low, high = architectures.LEAD_ROWS
    lead = out[..., 1]
    assert lead.sum(axis=1).max() <= 1.0 and not lead[:, :low].any() and not lead[:, high:].any()  # one line, in its register
    np.testing.assert_allclose(np.asarray(architectures.voiced_to_roll(generator)(z)), out[..., :1], atol=1e-6)
    assert np.asarray(discriminator(out)).shape == (4, 1)
    assert architectures.is_voiced("bars-lead-voices") and not architectures.is_voiced("bars-lead")


def test_the_voiced_generator_merges_its_voices_by_or_and_samples_the_merge_alone():
    generator, discriminator = architectures.build("bars-voices")
    z = np.random.default_rng(0).standard_normal((4, 14)).astype("float32")
    out = np.asarray(generator(z))
    assert out.shape == (4, 106, 300, 1 + len(VOICES))
    np.testing.assert_array_equal(out[..., 0], out[..., 1:].max(axis=-1))
    assert np.array_equal(out[..., 0] >= 0.5, (out[..., 1:] >= 0.5).any(axis=-1))  # a logical OR once thresholded
    sampled = architectures.voiced_to_roll(generator)
    assert tuple(sampled.output.shape) == (None, 106, 300, 1)
    np.testing.assert_allclose(np.asarray(sampled(z)), out[..., :1], atol=1e-6)
    assert np.asarray(discriminator(out)).shape == (4, 1)
    default_step = sum(architectures.count_flops(m) for m in architectures.build("default"))
    assert architectures.count_flops(generator) <= 1e9
    assert architectures.count_flops(generator) + architectures.count_flops(discriminator) <= 2 * default_step
    assert architectures.is_voiced("bars-voices") and not architectures.is_voiced("bars")


def test_generated_voices_reach_d_merged_exactly_as_the_reals_are():
    import keras

    model = gan.GAN(*architectures.build("bars-voices"), None, hard_fakes=True)
    probabilities = np.random.default_rng(1).random((2, 106, 300, 1 + len(VOICES))).astype("float32") * 0.9
    seen = np.asarray(model.d_input(keras.ops.convert_to_tensor(probabilities), np.full((2, 3), [0, 0, -1])))
    voices = probabilities[..., 1:] >= 0.5
    assert np.array_equal(seen[..., 1:], voices) and np.array_equal(seen[..., 0], voices.any(axis=-1))


def test_augmentation_moves_every_voice_alike():
    rolls = np.zeros((1, 106, 48, 2), dtype="float32")
    rolls[0, 40, 3, 0] = rolls[0, 50, 5, 1] = 1.0
    moved = np.asarray(gan.augment(rolls, np.array([[16, 2, -1]])))
    assert moved[0, 42, 19, 0] == 1.0 and moved[0, 52, 21, 1] == 1.0 and moved.sum() == 2.0


@pytest.mark.slow
@pytest.mark.parametrize("arch", ["bars-voices", "bars-lead-voices"])
def test_a_voiced_run_trains_and_exports_a_one_channel_generator(tmp_path, voiced, arch):
    config = recipe_config("ours", steps=4, batch_size=4, sample_every=2, checkpoint_every=2, arch=arch, augment="both", key_mode="normalise")
    train.train(voiced, tmp_path / "run", config, verbose=0)
    generator = modelio.load_generator(tmp_path / "run" / "generator.keras")
    assert tuple(generator.output_shape) == (None, 106, 300, 1)
    portable.export(tmp_path / "run" / "generator.keras")  # checks NumPy's rolls against Keras's itself
    numpy_generator = portable.load(tmp_path / "run" / "generator.keras")
    z = np.random.default_rng(2).standard_normal((3, 14)).astype("float32")
    np.testing.assert_allclose(numpy_generator.forward(z), np.asarray(generator(z)), atol=2e-4)
    plain = tmp_path / "plain"
    assert main(["prepare", str(voiced.parent / "midi"), "-o", str(plain), "--jobs", "1"]) == 0
    with pytest.raises(DatasetError, match="--voices"):
        train.train(plain, tmp_path / "refused", config, verbose=0)

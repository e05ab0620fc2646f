"""Trainer: batches from (seed, step), one step learns, exact resume, atomic checkpoints, bad input."""

from __future__ import annotations

import dataclasses
import json
import shutil
import signal
import subprocess
import sys
import threading

import numpy as np
import pytest
from conftest import prepare_chord_dataset

from pianogan import roll
from pianogan.cli import main
from pianogan.data import batches, datasets
from pianogan.errors import PianoganError
from pianogan.models import modelio, texture
from pianogan.training import backends, runlog, train
from pianogan.training.config import TrainConfig, recipe_config


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return prepare_chord_dataset(tmp_path_factory.mktemp("data"))


def small(steps: int, **overrides) -> TrainConfig:
    values = dict(steps=steps, batch_size=4, sample_every=5, checkpoint_every=5)
    return recipe_config("ours", **{**values, **overrides})


def test_batches_depend_only_on_seed_and_step():
    windows = np.random.default_rng(0).random((10, 106, 300)) < 0.03
    a = batches.BatchMaker(windows, 4, 14, seed=3, max_transpose=6, time_shift=True)
    b = batches.BatchMaker(windows, 4, 14, seed=3, max_transpose=6, time_shift=True)
    for step in (7, 0, 7):
        assert np.array_equal(a.real(step), b.real(step)) and np.array_equal(a.latents(step), b.latents(step))
    assert not np.array_equal(a.latents(1), a.latents(2))


def test_each_epoch_visits_every_window_once_in_a_shuffled_order():
    first_epoch = np.concatenate([batches.batch_indices(12, 4, step, seed=1, shuffle=True) for step in range(3)])
    assert sorted(first_epoch) == list(range(12)) and list(first_epoch) != list(range(12))
    assert list(batches.batch_indices(12, 4, 1, seed=1, shuffle=False)) == [4, 5, 6, 7]
    # A dataset smaller than a batch wraps over epochs.
    assert sorted(batches.batch_indices(3, 6, 0, seed=1, shuffle=True)) == [0, 0, 1, 1, 2, 2]


def test_transposition_keeps_notes_on_the_piano():
    windows = np.zeros((1, 106, 300), dtype=bool)
    windows[0, 2, :10] = windows[0, 80, :10] = True  # 2 rows above the bottom, 7 below the top key
    maker = batches.BatchMaker(windows, 64, 14, seed=0, max_transpose=6)
    rows = np.nonzero(maker.real(0)[..., 0].any(axis=2))[1]
    assert rows.min() >= 0 and rows.max() <= 87
    shifts = {tuple(np.nonzero(b[..., 0].any(axis=1))[0]) for b in maker.real(0)}
    assert len(shifts) == 9  # every shift from -2 to +6 appears in 64 draws


def test_time_shift_continues_into_the_next_window_by_whole_beats():
    windows = np.zeros((2, 106, 300), dtype=bool)
    windows[0, 40, 0] = windows[1, 41, 0] = True
    maker = batches.BatchMaker(windows, 16, 14, seed=0, shuffle=False, time_shift=True, successors=np.array([1, -1]))
    for real in maker.real(0)[::2, ..., 0]:  # windows[0] with its successor
        columns = np.nonzero(real[41])[0]
        assert len(columns) == 1 and columns[0] % 4 == 0  # shifted by whole beats


def test_bar_aligned_time_shifts_move_by_whole_bars_into_an_overlapping_successor():
    """Aligned windows start every 288 columns (18 bars); shifts keep beat 1 on column 0."""
    piece = np.zeros((106, 600), dtype=bool)
    piece[40, ::16] = True  # a note on every downbeat
    windows = np.stack([piece[:, :300], piece[:, 288:588]])
    maker = batches.BatchMaker(
        windows, 32, 14, seed=0, shuffle=False, time_shift=True, successors=np.array([1, -1]), strides=np.array([288, 300]), shift_unit=16
    )
    for real in maker.real(0)[::2, ..., 0]:  # windows[0] continued by windows[1]
        assert np.array_equal(np.flatnonzero(real[40]), np.arange(0, 300, 16))
    for real in maker.real(0)[1::2, ..., 0]:  # the piece's last window stays as it is: no made-up silence
        assert np.array_equal(real, windows[1])


def test_a_window_continues_into_a_successor_it_does_not_train_on():
    """The window before a song's (filtered-out) last one still shifts into real music."""
    windows = np.zeros((2, 106, 300), dtype=bool)
    windows[0, 40, :] = True  # a full window, learnt from
    windows[1, 41, :20] = True  # the song's short last window, left out of training
    maker = batches.BatchMaker(windows, 64, 14, seed=0, time_shift=True, successors=np.array([1, -1]), trained=np.array([0]))
    reals = maker.real(0)[..., 0]
    assert reals[:, 40].any(axis=1).all()  # every draw is window 0
    shifted = [r for r in reals if not r[40].all()]
    assert shifted and all(r[41].any() or r[40, -1] for r in shifted)  # what follows it is window 1's music


def test_key_normalisation_moves_each_window_to_c_major_or_a_minor_on_the_piano():
    from pianogan.music import keys

    rng = np.random.default_rng(0)
    windows = np.zeros((24, 106, 300), dtype=bool)
    for key in range(24):
        scale = np.flatnonzero(keys.scale_mask(key))
        tonic = key % 12
        for column in range(0, 300, 4):  # tonic triad in the bass, scale notes above
            for step in (0, 4 if key < 12 else 3, 7):
                windows[key, 36 + (tonic + step) % 12 - 21, column : column + 4] = True
            windows[key, 60 + int(rng.choice(scale)) - 21, column : column + 2] = True
    assert list(keys.estimate_keys(windows)) == list(range(24))
    shifts = train.key_normalising_shifts(windows, np.arange(24))
    assert np.all(np.abs(shifts) <= 6)
    moved = np.stack([roll.transpose(w, int(s)) for w, s in zip(windows, shifts)])
    assert set(keys.estimate_keys(moved)) == {0, 21}  # C major and A minor
    # Near the top of the piano the move goes down instead.
    assert keys.fit_on_piano(80, 86, 5) == -7 and keys.fit_on_piano(0, 10, -3) == 9


def test_d_augmentation_moves_by_whole_bars_and_semitones_and_blanks_a_bar():
    from pianogan.models.gan import augment

    rolls = np.zeros((4, 106, 300, 1), dtype="float32")
    rolls[:, 40, 0:4] = 1.0
    rolls[:, 50, 290:300] = 1.0
    params = np.array([[16, 2, -1], [0, 0, 0], [-16, -1, -1], [32, 0, 16]], dtype="int32")
    out = np.asarray(augment(rolls, params))[..., 0]
    assert np.flatnonzero(out[0, 42]).tolist() == [16, 17, 18, 19] and not out[0, 40].any()
    assert not out[0, 52].any()  # moved out of the window: lost, not wrapped
    assert not out[1, :, :16].any() and out[1, 50].sum() == 10  # bar 0 blanked
    assert not out[2, 39].any() and out[2, 49, 274:284].all()  # the first note left the window
    assert out[3, 40, 32:36].all()  # shifted by two bars; the blanked bar (16..31) held nothing
    # Linear, so its gradient carries the discriminator's signal back to the generator.
    other = np.random.default_rng(0).random(rolls.shape).astype("float32")
    assert np.allclose(np.asarray(augment(rolls + other, params)), out[..., None] + np.asarray(augment(other, params)), atol=1e-5)


def test_d_moves_depend_on_seed_and_step_and_stay_within_bounds():
    windows = np.zeros((8, 106, 300), dtype=bool)
    maker = batches.BatchMaker(windows, 64, 14, seed=2)
    moves = maker.d_moves(5)
    assert moves.shape == (2, 64, 3) and np.array_equal(moves, batches.BatchMaker(windows, 64, 14, seed=2).d_moves(5))
    assert set(np.unique(moves[..., 0])) == {-32, -16, 0, 16, 32} and set(np.unique(moves[..., 1])) == set(range(-3, 4))
    cut = moves[..., 2][moves[..., 2] >= 0]
    assert (cut % 16 == 0).all() and cut.max() <= 288 and 0.3 < len(cut) / 128 < 0.7
    assert not np.array_equal(moves, maker.d_moves(6))


@pytest.mark.slow
def test_the_shipped_recipe_trains_and_resumes_exactly(tmp_path, dataset):
    """The bars architecture with both sides augmented, keys normalised and drawn fakes, whose
    draws' state must travel in the checkpoint too."""
    config = dict(arch="bars", augment="both", key_mode="normalise", fakes="stochastic", r1_gamma=10.0, lr_d=1e-4)
    train.train(dataset, tmp_path / "straight", small(4, **config), verbose=0)
    train.train(dataset, tmp_path / "resumed", small(2, **config), verbose=0)
    train.train(dataset, tmp_path / "resumed", small(4, **config), resume=True, verbose=0)
    straight, resumed = _weights(tmp_path / "straight"), _weights(tmp_path / "resumed")
    assert max(float(np.max(np.abs(straight[k].astype(np.float64) - resumed[k]))) for k in straight) < 1e-4
    drawing = train.build_gan(small(1, **config)).discriminator
    assert len(drawing.variables) == len(train.build_gan(small(1, arch="bars")).discriminator.variables) + 1  # the draws' state
    assert len([k for k in straight if k.startswith("discriminator/")]) == len(drawing.variables)  # is in the checkpoint


def test_a_figure_critic_learns_beside_d_and_resumes_exactly(tmp_path, dataset):
    """The critic and its optimizer travel in the checkpoint, and G's loss reads its verdict."""
    config = dict(arch="bars", texture_matching=1.0, figure_critic=1.0)
    train.train(dataset, tmp_path / "straight", small(4, **config), verbose=0)
    train.train(dataset, tmp_path / "resumed", small(2, **config), verbose=0)
    train.train(dataset, tmp_path / "resumed", small(4, **config), resume=True, verbose=0)
    straight, resumed = _weights(tmp_path / "straight"), _weights(tmp_path / "resumed")
    critic = [k for k in straight if k.startswith("critic/")]
    assert critic and straight.keys() == resumed.keys() and any(k.startswith("c_optimizer/") for k in straight)
    assert max(float(np.max(np.abs(straight[k].astype(np.float64) - resumed[k]))) for k in straight) < 1e-4
    figures = np.random.default_rng(0).random((8, len(texture.FEATURES)), dtype=np.float32)
    untrained = train.build_gan(small(1, **config), figures).critic  # the same seed: the weights the runs started from
    assert any(not np.allclose(np.array(v), straight[k]) for v, k in zip(untrained.variables, sorted(critic, key=lambda k: int(k.split("/")[1]))))
    rows = runlog.read_log(tmp_path / "straight")
    assert all(float(row["critic_loss"]) > 0 and float(row["figure_critic"]) > 0 for row in rows)


def test_the_critic_has_its_own_r1_weight(tmp_path, dataset):
    """--critic-r1-gamma moves the critic's update and leaves D's (``--r1-gamma``) alone."""
    weights = {}
    for gamma in (0.0, 100.0):
        config = small(1, arch="bars", texture_matching=1.0, figure_critic=1.0, r1_gamma=10.0, critic_r1_gamma=gamma)
        train.train(dataset, tmp_path / str(gamma), config, verbose=0)
        weights[gamma] = _weights(tmp_path / str(gamma))
    free, held = weights[0.0], weights[100.0]
    assert all(np.array_equal(free[k], held[k]) for k in free if k.startswith("discriminator/"))
    assert any(not np.allclose(free[k], held[k]) for k in free if k.startswith("critic/"))


def test_the_critics_memory_keeps_batches_and_returns_them_in_turn():
    """Over N steps the memory keeps 16 batches, one every N/16 steps, writing over the
    oldest; each step the critic rereads the kept ones in turn, and the current batch before
    any is kept."""
    gan = train.build_gan(small(1, arch="bars", figure_critic=1.0, critic_memory=32), np.zeros((8, len(texture.FEATURES)), "float32"))
    assert gan.memory_stride == 2
    memory = np.zeros((16, 4, len(texture.FEATURES)), "float32")
    recalled = []
    for step in range(40):
        current = np.full((4, len(texture.FEATURES)), step, "float32")
        recalled.append(float(np.asarray(gan.recall(memory, step, current))[0, 0]))
        memory = np.asarray(gan.remember(memory, step, current))
    assert recalled[:8] == [0, 0, 0, 2, 0, 4, 0, 6]  # at step 0 its own batch; then the kept ones in turn
    assert sorted(memory[:, 0, 0].tolist()) == list(range(8, 40, 2))  # the last 16 kept, steps 8 to 38
    assert all(0 < step - kept <= 32 for step, kept in enumerate(recalled) if step > 0)  # never older than N steps


def test_the_critics_memory_moves_the_critic_from_its_second_step(tmp_path, dataset):
    """At the first step there is nothing to remember and the critic learns as without a
    memory; from the second on it also tells real windows from the batch it kept. Without
    the figure critic the option is refused in one line."""
    weights = {}
    for memory in (0, 16):
        config = small(2, arch="bars", texture_matching=1.0, figure_critic=1.0, critic_memory=memory)
        train.train(dataset, tmp_path / str(memory), config, verbose=0)
        weights[memory] = _weights(tmp_path / str(memory))
    without, remembering = weights[0], weights[16]
    assert "critic_memory/0" not in without and remembering["critic_memory/0"].shape == (16, 4, len(texture.FEATURES))
    critic = [k for k in without if k.startswith("critic/")]
    assert max(float(np.max(np.abs(without[k] - remembering[k]))) for k in critic) > 1e-5
    first = runlog.read_log(tmp_path / "0")[0], runlog.read_log(tmp_path / "16")[0]
    assert np.isclose(float(first[0]["critic_loss"]), float(first[1]["critic_loss"]), rtol=1e-5)
    with pytest.raises(PianoganError, match="--critic-memory is the figure critic's memory: it needs --figure-critic"):
        train.train(dataset, tmp_path / "refused", small(2, critic_memory=16), verbose=0)
    assert not (tmp_path / "refused").exists()


def test_one_step_changes_the_weights_and_the_ema(tmp_path, dataset):
    gan = train.build_gan(small(1))
    before = [np.array(v) for v in gan.generator.trainable_variables]
    ema_before = [np.array(v) for v in gan.ema_generator.trainable_variables]
    maker = batches.BatchMaker(datasets.load_split(dataset), 4, 14, seed=0)
    logs = backends.load().make_step(gan)(maker.batch(0))
    assert int(gan.step_counter.numpy()) == 1
    assert all(np.isfinite(float(v)) for v in logs.values())
    assert any(not np.array_equal(b, np.array(v)) for b, v in zip(before, gan.generator.trainable_variables))
    assert any(not np.array_equal(b, np.array(v)) for b, v in zip(ema_before, gan.ema_generator.trainable_variables))


def _weights(run) -> dict[str, np.ndarray]:
    with np.load(run / train.CHECKPOINT) as saved:
        return {key: saved[key] for key in saved.files}


@pytest.mark.slow
def test_resume_equals_an_uninterrupted_run(tmp_path, dataset):
    train.train(dataset, tmp_path / "straight", small(25), verbose=0)
    train.train(dataset, tmp_path / "resumed", small(10), verbose=0)
    assert _weights(tmp_path / "resumed")["step/0"] == 10
    train.train(dataset, tmp_path / "resumed", small(25), resume=True, verbose=0)
    straight, resumed = _weights(tmp_path / "straight"), _weights(tmp_path / "resumed")
    assert straight.keys() == resumed.keys() and resumed["step/0"] == 25
    worst = max(float(np.max(np.abs(straight[k].astype(np.float64) - resumed[k]))) for k in straight)
    assert worst < 1e-4
    log = (tmp_path / "resumed" / runlog.LOG).read_text().splitlines()
    assert [int(line.split(",")[0]) for line in log[1:]] == list(range(1, 26))
    for name in ("generator.keras", "config.json", "train_log.csv", "samples/step_0000025.png"):
        assert (tmp_path / "resumed" / name).exists()
    config = json.loads((tmp_path / "resumed" / "config.json").read_text())
    assert config["train"]["steps"] == 25 and config["dataset_fingerprint"] == datasets.dataset_fingerprint(dataset)
    assert "pianogan_version" in config
    # What generate needs to know about the data travels inside the model file.
    facts = modelio.read_facts(tmp_path / "resumed" / "generator.keras")
    assert facts["key_mode"] == "transpose" and len(facts["key_distribution"]) == 24
    assert sum(facts["key_distribution"]) == pytest.approx(1, abs=1e-4) and facts["key_distribution"] == config["key_distribution"]
    assert modelio.load_generator(tmp_path / "resumed" / "generator.keras").output_shape == (None, 106, 300, 1)


@pytest.mark.slow
def test_a_checkpoint_killed_mid_write_leaves_the_previous_one_loadable(tmp_path, dataset, monkeypatch):
    run = tmp_path / "run"
    train.train(dataset, run, small(5), verbose=0)
    gan = train.build_gan(small(5))
    train.load_checkpoint(gan, run)

    def dies_half_way(handle, **arrays):
        handle.write(b"PK\x03\x04 half a zip file")
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", dies_half_way)
    with pytest.raises(KeyboardInterrupt):
        train.save_checkpoint(gan, run)
    monkeypatch.undo()
    assert train.load_checkpoint(train.build_gan(small(5)), run) == 5
    assert [p.name for p in run.iterdir() if ".tmp" in p.name] == []


@pytest.mark.slow
def test_bad_inputs_are_one_line_errors_and_change_nothing(tmp_path, dataset, capsys):
    assert main(["train", str(tmp_path / "missing"), "-o", str(tmp_path / "r0"), "--steps", "1"]) == 2
    assert "no such dataset folder" in capsys.readouterr().err
    assert not (tmp_path / "r0").exists()
    assert main(["train", str(dataset), "-o", str(tmp_path / "r1"), "--steps", "1", "--split", "test"]) == 2
    assert "no 'test' split" in capsys.readouterr().err
    assert main(["train", str(dataset), "-o", str(tmp_path / "r2"), "--steps", "1", "--draw-band", "0.2"]) == 2
    assert "--draw-band applies only to drawn notes; add --fakes stochastic" in capsys.readouterr().err
    assert not (tmp_path / "r2").exists()

    run = tmp_path / "run"
    assert main(["train", str(dataset), "-o", str(run), "--steps", "2", "--batch-size", "2", "--quiet"]) == 0
    config_before = (run / "config.json").read_text()
    assert main(["train", str(dataset), "-o", str(run), "--steps", "3", "--quiet"]) == 2
    assert "already holds a run" in capsys.readouterr().err
    assert main(["train", str(dataset), "-o", str(run), "--steps", "3", "--arch", "seed", "--resume", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "--arch default" in err and len(err.strip().splitlines()) == 1
    (run / "checkpoint.npz").write_bytes(b"not a checkpoint")
    assert main(["train", str(dataset), "-o", str(run), "--steps", "3", "--resume", "--quiet"]) == 2
    assert "corrupt checkpoint" in capsys.readouterr().err
    assert (run / "config.json").read_text() == config_before


def test_empty_split_is_an_error(tmp_path):
    datasets.save_split(tmp_path / "ds" / "train.npz", np.zeros((0, 106, 38), dtype=np.uint8), 300)
    with pytest.raises(PianoganError, match="no windows"):
        train.train(tmp_path / "ds", tmp_path / "run", small(1), verbose=0)
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_time_limit_stops_early_with_a_checkpoint(tmp_path, dataset):
    run = train.train(dataset, tmp_path / "run", small(50), verbose=0, time_limit=1e-6)
    assert _weights(run)["step/0"] == 1  # the limit is checked after each step
    assert (run / "generator.keras").exists()


def test_music_span_and_the_windows_training_keeps(tmp_path):
    windows = np.zeros((3, 106, 300), dtype=bool)
    windows[0, 40, [0, 299]] = True  # music across the whole width
    windows[1, 40, 10:100] = True  # the end of a piece: 90 columns
    assert roll.music_span(windows).tolist() == [1.0, 0.3, 0.0]
    rows = np.packbits(windows, axis=-1)
    datasets.save_split(tmp_path / "train.npz", rows, 300)
    data = train._load_data(tmp_path, "train", 0.9)
    assert np.array_equal(data.windows, windows) and data.trained.tolist() == [0] and not data.bar_aligned
    with pytest.raises(PianoganError, match="--min-span"):
        train._load_data(tmp_path, "train", 1.01)


@pytest.mark.slow
def test_an_interrupted_run_writes_a_checkpoint_and_stops_cleanly(tmp_path, dataset):
    """``kill`` (SIGTERM) checkpoints the step reached and exits with 130.

    The signal is sent once the first step's sample grid exists, an event rather than a
    delay, so the test passes however slow the machine is.
    """
    import signal
    import subprocess
    import sys

    run = tmp_path / "run"
    first_sample = run / "samples" / "step_0000001.png"
    command = [
        sys.executable,
        "-m",
        "pianogan",
        "train",
        str(dataset),
        "-o",
        str(run),
        "--steps",
        "100000",
        "--batch-size",
        "2",
        "--quiet",
        "--checkpoint-every",
        "100000",
        "--sample-every",
        "1",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    while not first_sample.exists():
        assert process.poll() is None, process.communicate()[1][-2000:]
        threading.Event().wait(0.05)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate()
    assert process.returncode == 130, err[-2000:]
    step = int(_weights(run)["step/0"])
    assert step >= 1 and f"checkpoint written at step {step}" in out
    assert [int(row["step"]) for row in runlog.read_log(run)] == list(range(1, step + 1))
    assert (run / "generator.keras").exists()


@pytest.mark.slow
def test_a_signal_during_a_save_is_not_lost(tmp_path, dataset, monkeypatch):
    """A SIGTERM that arrives while the generator is being saved still stops the run."""
    import os
    import signal

    run = tmp_path / "run"
    save, handler = train.save_generator, signal.getsignal(signal.SIGTERM)

    def save_and_get_killed(generator, folder, facts):
        os.kill(os.getpid(), signal.SIGTERM)  # delivered inside Keras's saving code
        save(generator, folder, facts)

    monkeypatch.setattr(train, "save_generator", save_and_get_killed)
    with pytest.raises(KeyboardInterrupt):
        train.train(dataset, run, small(50, checkpoint_every=2), verbose=0)
    # The signal came during step 2's checkpoint, and the run stopped right after it.
    assert int(_weights(run)["step/0"]) == 2
    assert signal.getsignal(signal.SIGTERM) == handler


def test_the_learning_rates_fall_linearly_over_the_last_steps():
    assert [train.learning_rate_scale(step, 10, 0) for step in (0, 9)] == [1.0, 1.0]
    assert [train.learning_rate_scale(step, 10, 4) for step in range(10)] == [1.0] * 7 + [0.75, 0.5, 0.25]
    assert train.learning_rate_scale(0, 4, 4) == 1.0


def _learning_rates(run) -> list[float]:
    """The learning rates stored with G's, D's and the critic's optimizers in RUN's checkpoint."""
    stored = _weights(run)
    gan = train.build_gan(small(1, arch="bars", figure_critic=1.0), np.zeros((8, len(texture.FEATURES)), "float32"))
    return [
        float(stored[f"{name}/{[v.name for v in optimizer.variables].index('learning_rate')}"])
        for name, optimizer in zip(("g_optimizer", "d_optimizer", "c_optimizer"), gan.optimizers())
    ]


@pytest.mark.slow
def test_a_fall_of_the_learning_rates_added_on_resume_trains_as_one_planned_from_the_start(tmp_path, dataset):
    config = dict(arch="bars", texture_matching=1.0, figure_critic=1.0, lr_d=1e-4)
    train.train(dataset, tmp_path / "planned", small(6, lr_decay_steps=3, **config), verbose=0)
    train.train(dataset, tmp_path / "added", small(3, **config), verbose=0)
    train.train(dataset, tmp_path / "added", small(6, lr_decay_steps=3, **config), resume=True, explicit={"lr_decay_steps": 3}, verbose=0)
    planned, added = _weights(tmp_path / "planned"), _weights(tmp_path / "added")
    assert planned.keys() == added.keys()
    assert max(float(np.max(np.abs(planned[k].astype(np.float64) - added[k]))) for k in planned) < 1e-4
    # The last step trained at a third of each rate; the critic follows D's.
    assert _learning_rates(tmp_path / "added") == pytest.approx([2e-4 / 3, 1e-4 / 3, 1e-4 / 3])
    assert json.loads((tmp_path / "added" / "config.json").read_text())["train"]["lr_decay_steps"] == 3
    train.train(dataset, tmp_path / "constant", small(6, **config), verbose=0)
    assert _learning_rates(tmp_path / "constant") == pytest.approx([2e-4, 1e-4, 1e-4])
    assert max(float(np.max(np.abs(planned[k].astype(np.float64) - _weights(tmp_path / "constant")[k]))) for k in planned) > 1e-6


@pytest.mark.slow
def test_a_fall_of_the_learning_rates_never_rewrites_steps_already_taken(tmp_path, dataset):
    train.train(dataset, tmp_path / "run", small(4, lr_decay_steps=2), verbose=0)
    before = _weights(tmp_path / "run")
    with pytest.raises(PianoganError, match=r"run: its learning rates began to fall at step 2 \(--steps 4 --lr-decay-steps 2\)"):
        train.train(dataset, tmp_path / "run", small(6), resume=True, verbose=0)
    after = _weights(tmp_path / "run")
    assert all(np.array_equal(before[k], after[k]) for k in before)
    train.train(dataset, tmp_path / "plain", small(3), verbose=0)
    with pytest.raises(
        PianoganError, match=r"plain: --lr-decay-steps 4 would start the fall at step 2, before its checkpoint's step 3; with --steps 6 use at most 3"
    ):
        train.train(dataset, tmp_path / "plain", small(6, lr_decay_steps=4), resume=True, explicit={"lr_decay_steps": 4}, verbose=0)
    with pytest.raises(PianoganError, match="--lr-decay-steps 5 must be at most --steps \\(4\\)"):
        train.train(dataset, tmp_path / "other", small(4, lr_decay_steps=5), verbose=0)
    assert not (tmp_path / "other").exists()


@pytest.mark.slow
def test_the_weight_average_is_passive_so_its_decay_may_change_on_resume(tmp_path, dataset):
    train.train(dataset, tmp_path / "straight", small(6, ema_decay=0.9), verbose=0)
    train.train(dataset, tmp_path / "changed", small(3, ema_decay=0.9), verbose=0)
    train.train(dataset, tmp_path / "changed", small(6), resume=True, explicit={"ema_decay": 0.0}, verbose=0)
    straight, changed = _weights(tmp_path / "straight"), _weights(tmp_path / "changed")
    for key in straight:
        if not key.startswith("ema_generator/"):
            assert np.abs(straight[key].astype(np.float64) - changed[key]).max() < 1e-4, key
    config = json.loads((tmp_path / "changed" / "config.json").read_text())["train"]
    assert config["ema_decay"] == 0.0
    # With decay 0 the saved generator is the generator itself.
    gan = train.build_gan(small(6))
    train.load_checkpoint(gan, tmp_path / "changed")
    exported = train.export_generator(gan, seed=0)
    assert all(np.array_equal(a, b) for a, b in zip(exported.trainable_weights, gan.generator.trainable_weights))


# --- faults: options, damaged run folders, a full disk, killed saves ------------------

BEFORE_TENSORFLOW = r"""
import contextlib, io, json, sys
from pianogan.cli import main
report = []
for argv in json.loads(sys.argv[1]):
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(argv)
    report.append([code, err.getvalue(), "tensorflow" in sys.modules or "keras" in sys.modules])
print(json.dumps(report))
"""


def test_options_and_run_folders_are_checked_before_tensorflow_loads(tmp_path, dataset):
    good = tmp_path / "good"
    good.mkdir()
    config = {"train": dataclasses.asdict(small(4)), "pianogan_version": "0.1.0"}
    (good / "config.json").write_text(json.dumps(config))
    damaged_log, mistyped, broken = (tmp_path / name for name in ("damaged_log", "mistyped", "broken"))
    for run in (damaged_log, mistyped, broken):
        shutil.copytree(good, run)
    (damaged_log / "train_log.csv").write_text("step,seconds,d_loss\n1,0.5,0.1\nthree,1.0,0.2\n")
    (mistyped / "config.json").write_text(json.dumps({**config, "train": {**config["train"], "batch_size": "32"}}))
    (broken / "config.json").write_text('{"train": {')
    shutil.copytree(good, tmp_path / "no_checkpoint")
    shutil.copytree(good, tmp_path / "bad_checkpoint")
    (tmp_path / "bad_checkpoint" / "checkpoint.npz").write_bytes(b"PK\x03\x04 half a checkpoint")
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "config.json").write_text("my own notes")
    (tmp_path / "file").write_text("")
    cases = {
        ("--checkpoint-every", "0"): "--checkpoint-every must be at least 1 and at most 1,000,000,000, got 0",
        ("--sample-every", "0"): "--sample-every must be at least 1",
        ("--seed", "-1"): "--seed must be at least 0",
        ("--batch-size", "10000000"): "--batch-size must be at least 1 and at most 4,096, got 10000000",
        ("--lr-g", "nan"): "--lr-g must be a finite number, got nan",
        ("--lr-d", "inf"): "--lr-d must be a finite number, got inf",
        ("--latent-dim", "0"): "--latent-dim must be at least 1",
        ("--steps", "0"): "--steps must be at least 1",
        ("--min-span", "2"): "--min-span must be at least 0 and at most 1, got 2.0",
        ("--ema-decay", "1"): "--ema-decay must be at least 0 and below 1, got 1.0",
        ("--draw-band", "0.6"): "--draw-band must be above 0 and at most 0.5, got 0.6",
        ("--mode-seeking", "-1"): "--mode-seeking must be at least 0",
        ("--time-limit", "0"): "--time-limit must be above 0",
        ("-o", str(damaged_log), "--resume"): f"{damaged_log / 'train_log.csv'} line 3: damaged row",
        ("-o", str(mistyped), "--resume"): f"{mistyped / 'config.json'}: train.batch_size must be a whole number, got '32'",
        ("-o", str(broken), "--resume"): f"{broken / 'config.json'}: unreadable run configuration",
        ("-o", str(tmp_path / "empty"), "--resume"): "config.json: not found; nothing to resume",
        ("-o", str(tmp_path / "no_checkpoint"), "--resume"): "checkpoint.npz: no checkpoint to resume from",
        ("-o", str(tmp_path / "bad_checkpoint"), "--resume"): "checkpoint.npz: corrupt checkpoint (not a readable .npz file",
        ("-o", str(foreign)): f"{foreign / 'config.json'}: exists and pianogan did not write it",
        ("-o", str(tmp_path / "file")): "it is a file, not a folder",
        ("--split", "test"): "no 'test' split",
    }
    runs = [["train", str(dataset), "-o", str(tmp_path / "run"), *extra] if "-o" not in extra else ["train", str(dataset), *extra] for extra in cases]
    done = subprocess.run([sys.executable, "-c", BEFORE_TENSORFLOW, json.dumps(runs)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    for (extra, message), (code, err, heavy) in zip(cases.items(), json.loads(done.stdout)):
        assert code == 2 and err.count("\n") == 1 and message in err and not heavy, (extra, err)
    assert not (tmp_path / "run").exists() and (foreign / "config.json").read_text() == "my own notes"


@pytest.mark.slow
def test_a_full_disk_stops_training_in_one_line_and_keeps_the_last_checkpoint(small_disk_of, dataset, monkeypatch, capsys):
    disk = small_disk_of("64m")
    run = disk.path / "run"
    train.train(dataset, run, small(2, checkpoint_every=2, sample_every=100), verbose=0)
    save = train.save_checkpoint

    def save_on_a_full_disk(gan, folder):
        disk.fill()  # the disk fills up while the run goes on
        save(gan, folder)

    monkeypatch.setattr(train, "save_checkpoint", save_on_a_full_disk)
    code = main(["train", str(dataset), "-o", str(run), "--steps", "4", "--resume", "--quiet"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.splitlines()[-1].startswith(f"pianogan train: error: {run / 'checkpoint.npz'}: cannot write (")
    monkeypatch.undo()
    assert train.load_checkpoint(train.build_gan(small(2)), run) == 2
    assert not [p for p in run.rglob("*") if ".tmp" in p.name]


KILLED_MID_SAVE = r"""
import os, signal, sys
import numpy as np
from pianogan.training import train

dataset, run, how = sys.argv[1:]
savez, saves = np.savez, []

def interrupted_savez(handle, **arrays):
    saves.append(1)
    if len(saves) == 2:  # the checkpoint at step 4, half written
        handle.write(b"PK\x03\x04 half a checkpoint")
        handle.flush()
        for _ in range(1 if how == "kill" else 2):
            os.kill(os.getpid(), signal.SIGKILL if how == "kill" else signal.SIGTERM)
    savez(handle, **arrays)

np.savez = interrupted_savez
from pianogan.training.config import recipe_config
train.train(dataset, run, recipe_config("ours", steps=10, batch_size=2, checkpoint_every=2, sample_every=2), verbose=0)
"""


@pytest.mark.slow
@pytest.mark.parametrize("how", ["kill", "two-signals"])
def test_a_run_killed_mid_save_resumes_from_its_last_checkpoint_without_leftovers(how, tmp_path, dataset, capsys):
    """kill -9, or a second SIGTERM (which exits at once), while the checkpoint is written:
    the previous checkpoint stays whole, and --resume removes the half-written file."""
    run = tmp_path / "run"
    done = subprocess.run([sys.executable, "-c", KILLED_MID_SAVE, str(dataset), str(run), how], capture_output=True, text=True, timeout=600)
    assert done.returncode == (-signal.SIGKILL if how == "kill" else 130), done.stderr[-3000:]
    if how == "two-signals":
        assert "second interrupt: stopping now" in done.stderr
    leftovers = [p.name for p in run.iterdir() if p.name.startswith(".checkpoint.npz.") and p.name.endswith(".tmp")]
    assert len(leftovers) == 1 and train.load_checkpoint(train.build_gan(small(2)), run) == 2
    assert main(["train", str(dataset), "-o", str(run), "--steps", "6", "--resume", "--quiet"]) == 0
    assert not [p for p in run.rglob("*") if ".tmp" in p.name]
    assert int(_weights(run)["step/0"]) == 6
    assert [int(row["step"]) for row in runlog.read_log(run)] == list(range(1, 7))


@pytest.mark.slow
def test_a_run_folder_from_before_pianogan_listed_its_files_can_be_resumed(tmp_path, dataset):
    from pianogan.training import options

    run = tmp_path / "run"
    train.train(dataset, run, small(2, sample_every=1), verbose=0)
    (run / ".pianogan-outputs.json").unlink()  # as an older pianogan left it
    outputs = options.check_run(dataset, run, None, resume=True)
    assert {"config.json", "checkpoint.npz", "generator.keras", "train_log.csv", "samples/step_0000001.png"} <= set(outputs.owned)
    outputs.check([*options.RUN_FILES, "samples/step_0000002.png"])


@pytest.mark.slow
def test_checkpoints_log_the_discriminator_on_training_and_validation_windows(tmp_path, dataset):
    with_validation = tmp_path / "ds"
    shutil.copytree(dataset, with_validation)
    shutil.copy(with_validation / "train.npz", with_validation / "validation.npz")
    train.train(with_validation, tmp_path / "run", small(10, key_mode="normalise"), verbose=0)
    rows = runlog.read_log(tmp_path / "run")
    probed = {int(row["step"]): (float(row["d_train_windows"]), float(row["d_validation_windows"])) for row in rows if row["d_train_windows"]}
    assert sorted(probed) == [5, 10] and all(0 < value < 1 for pair in probed.values() for value in pair)
    # The same windows on both sides here: D cannot tell them apart.
    assert all(seen == pytest.approx(unseen, abs=0.02) for seen, unseen in probed.values())
    # a key-normalised generator carries where the windows of each key sit, which generate weighs keys by
    registers = modelio.key_registers(modelio.read_facts(tmp_path / "run" / "generator.keras"))
    assert registers is not None and len(registers["means"]) == 24 and np.linalg.eigvalsh(registers["covariance"]).min() > 0
    train.train(dataset, tmp_path / "no-validation", small(5), verbose=0)
    assert all(not row.get("d_train_windows") for row in runlog.read_log(tmp_path / "no-validation"))

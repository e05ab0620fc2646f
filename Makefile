# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
# `make test-fast` leaves out the tests marked slow; `make lint` runs ruff and mypy.
# Both create .venv and install the project once; later runs only re-install when
# pyproject.toml changes, so they are quick on a machine that already has the venv.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup system-deps browser demo serve test test-fast lint bench clean

setup: $(STAMP) system-deps

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,jax]'  # JAX (CPU) for the backend tests; PyTorch's tests skip without it
	# The pip-only audio fallback; its declared pyaudio dependency (live playback) is not needed.
	$(BIN)/python -m pip install --quiet --no-deps "tinysoundfont==0.3.7"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (pianogan)" >/dev/null
	touch $(STAMP)

# FluidSynth and a General MIDI soundfont give the best audio; without them pianogan
# falls back to a renderer installed from pip, so a failure here is only a warning.
system-deps:
	@if command -v fluidsynth >/dev/null 2>&1 && [ -e /usr/share/sounds/sf2/FluidR3_GM.sf2 ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing fluidsynth and fluid-soundfont-gm"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fluidsynth fluid-soundfont-gm >/dev/null) \
		|| echo "warning: could not install fluidsynth; audio will use the pip fallback renderer"; \
	else echo "note: fluidsynth not installed; audio will use the pip fallback renderer"; fi

# Chromium for the browser tests (tests/test_browser.py): Playwright drives the system's
# browser, since it cannot download its own without a network. Without it those tests skip.
browser:
	@if command -v chromium >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing chromium for the browser tests"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
		|| echo "warning: could not install chromium; the browser tests will be skipped"; \
	else echo "note: chromium not installed; the browser tests will be skipped"; fi

# Four new pieces from the shipped model: rolls, MIDI, WAV and a page to listen to them.
demo: setup
	$(BIN)/pianogan generate --n 4 --seed 0 -o out/demo
	@echo "open $(CURDIR)/out/demo/index.html"
	@echo "compose with sliders: make serve (or $(BIN)/pianogan serve), then open http://127.0.0.1:8000/"

# The web app on http://127.0.0.1:8000/ (Ctrl-C stops it).
serve: setup
	$(BIN)/pianogan serve

# The whole suite, on every core; the slowest tests are listed at the end, to keep it well
# under 15 minutes on two. Each test module runs on one worker (--dist loadscope), so what
# its module-wide fixtures make (a dataset, a reference training run) is made once.
PYTEST := $(BIN)/python -m pytest -q -n auto --dist loadscope
test: setup browser
	$(PYTEST) --durations=15

# Everything but the tests marked slow (training runs, notebooks, the wheel): about
# a minute and a half on two idle cores.
test-fast: setup
	$(PYTEST) -m "not slow"

# Lint and import order, formatting, and types (settings in pyproject.toml).
lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The self-contained benchmarks; compare_recipes.py and learning_check.py take a dataset
# and a model (see their --help), and run for minutes. serve_latency needs Chromium.
bench: setup browser
	for script in prepare train_speed generate audio evaluate_speed serve_latency; do $(BIN)/python benchmarks/$$script.py || exit 1; done

clean:
	rm -rf out build src/*.egg-info .pytest_cache

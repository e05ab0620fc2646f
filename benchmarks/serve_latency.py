"""Latency of ``pianogan serve`` as a person meets it, in a real browser (headless Chromium).

Budgets: the first answer within 3 s of start; a slider move to the redrawn roll
<= 150 ms; a slider move to sound <= 500 ms while playing; one window inverted <= 10 s.

- start: ``pianogan serve`` is launched and ``/api/piece`` asked for every 10 ms until
  it answers; the time from launch to that answer counts (imports, model load, bind).
- slider: the page is loaded and playing; ``MOVES`` times a latent slider moves (an
  ``input`` event, as a drag sends) and the page records, with ``performance.now()``,
  when that input came, when the roll it asked for was drawn and when its sound starts
  (the synthesiser's start time plus the audio output latency; for the SoundFont, the
  ``playing`` event of the rendered WAV). Moves are spaced so that each one's answer is in.
- inversion: a MIDI file is uploaded through the page: time to the nearest piece shown.
  A POP909 song when ``../shared/data/pop909/midi`` is there, else a generated piece.

Uses the shipped model (with its NumPy export). Needs Chromium and Playwright (``make
browser``). ``--screenshot docs/app.png`` also saves a picture of the page.

    python benchmarks/serve_latency.py [--screenshot docs/app.png]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))  # the browser set-up the tests use

from browser import browser_page, why_no_browser  # noqa: E402

MOVES = 25
POP909 = REPO.parent / "shared" / "data" / "pop909" / "midi"


def first_answer(port: int, env: dict) -> tuple[subprocess.Popen, float]:
    """Launch the server and time it to its first /api/piece answer."""
    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "pianogan", "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/piece?seed=0", timeout=5) as response:
                response.read()
                return process, time.perf_counter() - start
        except OSError:
            if process.poll() is not None:
                sys.exit(f"pianogan serve stopped: {process.stderr.read().decode()[-2000:]}")
            time.sleep(0.01)


def move_slider(page, index: int, value: float) -> dict:
    """Move latent slider ``index`` to ``value``; return the page's timing of that move."""
    count = page.evaluate("window.pianogan.timings.length")
    page.evaluate(
        "([i, v]) => { const s = document.getElementById('z' + i); s.value = v; s.dispatchEvent(new Event('input', {bubbles: true})); }",
        [index, value],
    )
    page.wait_for_function(f"window.pianogan.timings.length > {count} && window.pianogan.timings.at(-1).drawn > 0")
    return page.evaluate("window.pianogan.timings.at(-1)")


def sound_after(page, moved: dict, kind: str) -> float:
    """Milliseconds from a move's input to the sound of its piece."""
    page.wait_for_function(f"window.pianogan.soundStarts.some((s) => s.input === {moved['input']} && s.kind === '{kind}')", timeout=30_000)
    start = page.evaluate(f"window.pianogan.soundStarts.find((s) => s.input === {moved['input']} && s.kind === '{kind}').at")
    return start - moved["input"]


def summary(values: list[float]) -> str:
    ordered = sorted(values)
    return f"median {statistics.median(ordered):6.1f} ms, p90 {ordered[int(0.9 * (len(ordered) - 1))]:6.1f} ms, max {ordered[-1]:6.1f} ms"


def verdict(value: float, budget: float) -> str:
    return "ok" if value <= budget else f"MISSED by {value - budget:.0f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--screenshot", type=Path, help="save a picture of the page here")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    if why_no_browser():
        sys.exit(f"cannot run: {why_no_browser()}")
    env = {**os.environ, "PYTHONPATH": f"{REPO / 'src'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    process, start_seconds = first_answer(args.port, env)
    print(f"pianogan serve latency on {os.cpu_count()} CPU cores (load average {os.getloadavg()[0]:.1f})")
    print(f"{'start to first piece':>24}: {start_seconds:.2f} s (budget 3 s) {'ok' if start_seconds <= 3 else 'MISSED'}")
    try:
        with browser_page() as page, tempfile.TemporaryDirectory() as tmp:
            page.goto(f"http://127.0.0.1:{args.port}/")
            page.wait_for_function("Number(document.getElementById('roll').dataset.version) >= 1")
            page.click("#play")
            page.wait_for_function("window.pianogan.level() > 0.001")
            results = {"synth": ([], []), "server": ([], [])}
            for kind in ("synth", "server"):
                page.select_option("#sound", kind)
                for k in range(MOVES if kind == "synth" else 8):
                    moved = move_slider(page, k % 14, round(((k * 7) % 13) / 13 * 6 - 3, 2))
                    results[kind][0].append(moved["drawn"] - moved["input"])
                    results[kind][1].append(sound_after(page, moved, kind))
            for kind, label in (("synth", "synthesiser in the page"), ("server", "SoundFont on the server")):
                redraw, sound = results[kind]
                print(f"playing with the {label}, {len(redraw)} moves:")
                print(f"{'slider to redrawn roll':>24}: {summary(redraw)} (budget 150 ms) {verdict(statistics.median(redraw), 150)}")
                print(f"{'slider to sound':>24}: {summary(sound)} (budget 500 ms) {verdict(statistics.median(sound), 500)}")
            page.click("#play")
            page.select_option("#sound", "synth")
            song = next(iter(sorted(POP909.rglob("*.mid"))), None) if POP909.is_dir() else None
            if song is None:
                import pianogan

                song = pianogan.load_generator().sample(1, seed=123)[0].to_midi(Path(tmp) / "generated.mid")
            began = time.perf_counter()
            page.set_input_files("#upload", str(song))
            page.wait_for_function("document.getElementById('vary').dataset.iou !== undefined", timeout=120_000)
            seconds = time.perf_counter() - began
            iou = float(page.get_attribute("#vary", "data-iou"))
            print(f"{'inversion of one window':>24}: {seconds:.1f} s for {song.name} (IoU {iou:.3f}; budget 10 s) {'ok' if seconds <= 10 else 'MISSED'}")
            if args.screenshot:
                page.click("#keep")
                page.screenshot(path=str(args.screenshot), full_page=True)
                print(f"screenshot: {args.screenshot}")
    finally:
        process.terminate()
        process.wait()


if __name__ == "__main__":
    main()

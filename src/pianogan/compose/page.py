"""The listening page of a run: ``index.html`` plus one roll picture per piece.

The page must work when opened straight from disk (``file://``) on a machine with no
network, so it has inline CSS only, relative links and no scripts or fonts from
elsewhere. The pictures are drawn with numpy and PIL rather than matplotlib: a run of
100 pieces must finish in a few seconds, and a matplotlib figure costs ~0.15 s each.
"""

from __future__ import annotations

import html
import os

import numpy as np

from pianogan.io.atomic import atomic_path, write_text
from pianogan.roll import COLUMNS_PER_BAR, LOWEST_PITCH, PIANO_ROWS, SECONDS_PER_COLUMN_AT_120_BPM, check_roll, pitch_name

PX_PER_COLUMN = 3  # 24 px per second at 120 BPM
PX_PER_PITCH = 2
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 30, 12, 7, 16
LABEL_EVERY_SECONDS = 5
# Pictures are lossless WebP: as sharp as PNG and smaller, and not ``*.png``, so the batch
# commands that take every PNG of a folder as a roll (img2midi, evaluate) skip them.
PICTURE_SUFFIX = "_roll.webp"

_BLACK_KEYS = {1, 3, 6, 8, 10}  # pitch classes of C#, D#, F#, G#, A#
_PAPER = (255, 255, 255)
_WHITE_ROW = (250, 251, 253)
_BLACK_ROW = (236, 239, 244)
_OCTAVE_LINE = (196, 204, 218)
_BAR_LINE = (222, 227, 236)
_NOTE = (31, 95, 168)
_INK = (70, 78, 92)


def picture_size(columns: int) -> tuple[int, int]:
    """Width and height in pixels of the picture of a roll of ``columns`` columns."""
    return (
        MARGIN_LEFT + columns * PX_PER_COLUMN + MARGIN_RIGHT,
        MARGIN_TOP + PIANO_ROWS * PX_PER_PITCH + MARGIN_BOTTOM,
    )


def picture(roll: np.ndarray):
    """A roll as people read it (a PIL image): high notes on top, time in seconds.

    Shows the piano's 88 keys (rows beyond the top key are normally empty), black-key
    rows shaded, a line under every C (labelled at the left), a faint line at every bar
    and a label every five seconds at 120 BPM.
    """
    from PIL import Image, ImageDraw, ImageFont

    roll = check_roll(roll)
    columns = roll.shape[1]
    pitches = LOWEST_PITCH + np.arange(PIANO_ROWS)[::-1]  # top row first
    row_colour = np.array([_BLACK_ROW if p % 12 in _BLACK_KEYS else _WHITE_ROW for p in pitches], dtype=np.uint8)
    pixels = np.repeat(row_colour, PX_PER_PITCH, axis=0)[:, None, :].repeat(columns * PX_PER_COLUMN, axis=1)
    pixels[:, :: COLUMNS_PER_BAR * PX_PER_COLUMN] = _BAR_LINE
    c_rows = np.flatnonzero(pitches % 12 == 0)
    pixels[c_rows * PX_PER_PITCH + PX_PER_PITCH - 1] = _OCTAVE_LINE  # the line below each C
    lit = roll[:PIANO_ROWS][::-1]
    pixels[np.repeat(np.repeat(lit, PX_PER_PITCH, axis=0), PX_PER_COLUMN, axis=1)] = _NOTE

    image = Image.new("RGB", picture_size(columns), _PAPER)
    image.paste(Image.fromarray(pixels, "RGB"), (MARGIN_LEFT, MARGIN_TOP))
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default()
    for row in c_rows:
        y = MARGIN_TOP + row * PX_PER_PITCH + PX_PER_PITCH // 2
        draw.text((MARGIN_LEFT - 4, y), pitch_name(int(pitches[row])), fill=_INK, font=font, anchor="rm")
    bottom = MARGIN_TOP + PIANO_ROWS * PX_PER_PITCH
    label_columns = round(LABEL_EVERY_SECONDS / SECONDS_PER_COLUMN_AT_120_BPM)
    for column in range(0, columns + 1, label_columns):
        x = MARGIN_LEFT + column * PX_PER_COLUMN
        draw.line([(x, bottom), (x, bottom + 3)], fill=_INK)
        text = f"{column * SECONDS_PER_COLUMN_AT_120_BPM:g}" + (" s" if column == 0 else "")
        draw.text((x, bottom + 4), text, fill=_INK, font=font, anchor="mt" if column else "lt")
    return image


def write_picture(roll: np.ndarray, path: str | os.PathLike) -> None:
    """Save ``picture(roll)`` atomically: lossless WebP for a ``.webp`` path, else PNG."""
    with atomic_path(path) as tmp:
        if str(path).lower().endswith(".webp"):
            picture(roll).save(tmp, format="WEBP", lossless=True, quality=30, method=2)
        else:
            picture(roll).save(tmp, format="PNG", compress_level=1)


_CSS = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #222a36;
  background: #f4f6f9; margin: 0; }
header, main, footer { max-width: 1000px; margin: 0 auto; padding: 0 20px; }
header { padding-top: 24px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 0; }
.lead { color: #56617a; margin: 0 0 14px; }
table.settings { border-collapse: collapse; margin-bottom: 18px; font-size: 14px; }
table.settings th { text-align: left; font-weight: 600; padding: 2px 16px 2px 0; color: #56617a; }
table.settings td { padding: 2px 0; }
section.piece { background: #fff; border: 1px solid #dde3ec; border-radius: 8px;
  padding: 14px 16px 12px; margin: 0 0 16px; }
.head { display: flex; align-items: baseline; gap: 14px; flex-wrap: wrap; margin-bottom: 8px; }
.facts { color: #56617a; font-size: 14px; }
.roll { overflow-x: auto; }
.roll img { display: block; }
.controls { display: flex; align-items: center; gap: 18px; flex-wrap: wrap; margin-top: 8px; }
audio { width: 420px; max-width: 100%; height: 36px; }
a { color: #1f5fa8; }
.downloads a { margin-right: 10px; }
.none { color: #8a93a6; font-style: italic; }
code { background: #e9edf3; padding: 1px 5px; border-radius: 4px; font-size: 13.5px; }
footer { padding-bottom: 30px; color: #3a4457; }
footer ul { padding-left: 20px; }
"""


def _settings_rows(summary: dict) -> list[tuple[str, str]]:
    options = summary.get("options", {})
    columns = options.get("length")
    rows = [("model", str(summary.get("model", "?")))]
    if options.get("interpolate"):
        a, b = options["interpolate"]
        rows.append(("interpolation", f"from seed {a} to seed {b} in {len(summary['pieces'])} steps"))
    else:
        rows.append(("seed", str(summary.get("seed", "?"))))
    if columns:
        bpm = options.get("bpm") or 120
        rows.append(("length", f"{columns} columns ({columns * SECONDS_PER_COLUMN_AT_120_BPM * 120 / bpm:g} s at {bpm:g} BPM)"))
    rows += [(key, str(options[key])) for key in ("threshold", "velocity") if key in options]
    return rows


def _origin(origin: dict) -> str:
    if "t" in origin:
        return f"t = {origin['t']:.3g} from seed {origin['from_seed']} to {origin['to_seed']}"
    if "seed" in origin:
        return f"seed {origin['seed']}, piece {origin['index']}"
    return ""


def _nearest(nearest: dict | None) -> str:
    if not nearest:
        return ""
    return f"nearest training window: {nearest['source']} #{nearest['window']}, IoU {nearest['iou']:.2f}" + (
        " (a near copy)" if nearest.get("near_copy") else ""
    )


def _piece_html(record: dict) -> str:
    e = html.escape
    files = record["files"]
    width, height = picture_size(record["columns"])
    facts = [
        f"{record['seconds']:g} s",
        f"{record['notes']} notes",
        record.get("key", ""),
        f"{100 * record['lit_share']:.1f}% of the roll lit",
        _origin(record.get("origin", {})),
        _nearest(record.get("nearest_training")),
    ]
    if files.get("wav"):
        player = f'<audio controls preload="metadata" src="{e(files["wav"])}"></audio>'
    else:
        player = '<span class="none">no audio (silent piece, or made with --no-audio)</span>'
    links = [("MIDI", files.get("midi")), ("WAV", files.get("wav")), ("PNG roll", files.get("roll"))]
    downloads = " ".join(f'<a href="{e(path)}" download>{label}</a>' for label, path in links if path)
    return f"""<section class="piece" id="{e(record["name"])}">
<div class="head"><h2>{e(record["name"])}</h2><span class="facts">{e(" · ".join(f for f in facts if f))}</span></div>
<div class="roll"><img src="{e(files["picture"])}" width="{width}" height="{height}" alt="piano roll of {e(record["name"])}: time to the right, high notes on top"></div>
<div class="controls">{player}<span class="downloads">{downloads}</span></div>
</section>"""


def render_page(summary: dict) -> str:
    """The HTML of a run's listening page, from the content of its ``pieces.json``."""
    e = html.escape
    pieces = summary["pieces"]
    noun = "piece" if len(pieces) == 1 else "pieces"
    settings = "\n".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in _settings_rows(summary))
    body = "\n".join(_piece_html(record) for record in pieces)
    seed = summary.get("seed") or 0
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>pianogan: {len(pieces)} generated {noun}</title>
<style>{_CSS}</style>
</head>
<body>
<header>
<h1>pianogan: {len(pieces)} generated {noun}</h1>
<p class="lead">Piano music composed by a GAN on piano-roll images. Each picture reads left to right, high notes on top; press play to listen.</p>
<table class="settings">
{settings}
</table>
</header>
<main>
{body}
</main>
<footer>
<h2>Make more</h2>
<ul>
<li>Other pieces: <code>pianogan generate --seed {seed + 1} -o DIR</code> (the same seed always gives the same pieces).</li>
<li>More of them: <code>--n 16</code>; longer ones: <code>--length 1200</code> (2.5 minutes, windows joined along a smooth path).</li>
<li>Denser or sparser music: <code>--threshold 0.4</code> or <code>--threshold 0.6</code>.</li>
<li>A gradual change from one piece to another: <code>--interpolate 3 7</code> (first pieces of seeds 3 and 7).</li>
</ul>
<p>Every piece's latent vectors and figures are in <a href="pieces.json">pieces.json</a>.</p>
</footer>
</body>
</html>
"""


def write_page(summary: dict, path: str | os.PathLike) -> None:
    """Write ``render_page(summary)`` to ``path``, atomically."""
    write_text(path, render_page(summary))

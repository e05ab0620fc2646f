"""The web app: one page, its two assets, and a small JSON API over ``pianogan.api``.

Starlette rather than FastAPI: the API is nine routes with hand-checked query strings
(``specs``), so FastAPI's pydantic models would add an import of about half a second to
every start (``serve`` must answer within 3 s) and a dependency, and nothing else.
It runs on uvicorn (``commands/serve.py``).

Safety: the page and its assets come from package data by fixed names; no request names
a file or path. Uploads are read from the body up to ``MAX_UPLOAD`` bytes (413 beyond),
recognised by content, and parsed by the command line's readers, so a bad file gives the
same one-line error, as JSON with a 4xx status. Every error is JSON ``{"error": line}``.
On a loopback address only loopback host names are accepted (no DNS rebinding), and
pages carry a content security policy that allows nothing from elsewhere.
"""

from __future__ import annotations

import logging
import time
from importlib import resources

import numpy as np
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from pianogan import __version__, api
from pianogan.compose import generate
from pianogan.compose.piece import Piece
from pianogan.errors import PianoganError
from pianogan.io.midi import MAX_QPM, MIN_QPM, roll_notes
from pianogan.music.keys import KEY_NAMES
from pianogan.roll import LOWEST_PITCH
from pianogan.serve import specs
from pianogan.serve.engine import Busy, Engine

MAX_UPLOAD = 2 * 1024 * 1024  # bytes: a long MIDI file is ~100 KB, a roll PNG a few KB
SEARCH_SECONDS = 7.0  # an inversion stops its search after this, to answer within 10 s on a busy machine
PLAY_RATE = 22050  # audio rendered for playing in the page: mono at half rate, a quarter of the bytes
ASSETS = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/app.css": ("app.css", "text/css; charset=utf-8"),
}
LOOPBACK_NAMES = ["127.0.0.1", "localhost", "::1", "[::1]"]
SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob: data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
]
log = logging.getLogger("pianogan.serve")


def unedited(generator: api.Generator, spec: specs.PieceSpec) -> bool:
    """Whether the request's latent is its seed's, as sent back rounded to 6 decimals."""
    return spec.latent is None or bool(np.allclose(spec.latent, generator.latent(spec.seed), rtol=0, atol=2e-6))


def piece_of(generator: api.Generator, spec: specs.PieceSpec) -> Piece:
    """The piece a request describes (the same calls as the API's).

    A latent equal to its seed's up to the page's rounding is taken as the seed's own,
    so the page shows exactly the piece ``pianogan generate --seed S`` writes.
    """
    latent = generator.latent(spec.seed) if unedited(generator, spec) else np.array(spec.latent)
    if spec.towards is not None:
        latent = generate.slerp(latent, np.array(spec.towards), spec.t)
    piece = generator.piece(latent, length=spec.length, threshold=spec.threshold, key=spec.key, bpm=spec.bpm, seed=spec.seed)
    return piece.transpose(spec.transpose) if spec.transpose and spec.key is None else piece


def piece_json(piece: Piece) -> dict:
    """A piece for the page: its notes as [MIDI pitch, first column, columns] and its facts."""
    rows, first, length = roll_notes(piece.roll)
    order = np.lexsort((rows, first))
    return {
        "latent": [round(float(v), 6) for v in piece.latents[0]] if len(piece.latents) else None,
        "columns": int(piece.roll.shape[1]),
        "notes": np.stack([rows[order] + LOWEST_PITCH, first[order], length[order]], axis=1).tolist(),
        "key": piece.key,
        "transposition": piece.transposition,
        "bpm": piece.bpm,
        "seconds": round(piece.seconds, 3),
        "lit_share": round(piece.lit_share, 5),
        "origin": piece.origin,
    }


def _filename(generator: api.Generator, spec: specs.PieceSpec, suffix: str) -> str:
    edited = "" if unedited(generator, spec) and spec.towards is None else "-edited"
    return f"pianogan-seed{spec.seed}{edited}{suffix}"


def create_app(generator: api.Generator) -> Starlette:
    """The Starlette app serving ``generator`` (wrap it with ``wrap`` before serving)."""
    engine = Engine(generator)
    g = engine.generator
    assets = {route: (resources.files("pianogan.serve").joinpath("static").joinpath(name).read_bytes(), kind) for route, (name, kind) in ASSETS.items()}

    async def asset(request: Request) -> Response:
        body, kind = assets[request.url.path]
        return Response(body, media_type=kind)

    async def info(request: Request) -> Response:
        from pianogan.io import audio

        try:
            renderer = audio.choose_renderer()
            audio.find_soundfont()
        except PianoganError:
            renderer = None
        return JSONResponse({
            "version": __version__, "model": g.path.name, "runtime": g.runtime, "latent_dim": g.latent_dim, "width": g.width,
            "keys": list(KEY_NAMES), "bpm": [MIN_QPM, MAX_QPM], "max_length": specs.MAX_LENGTH, "renderer": renderer,
            "max_upload": MAX_UPLOAD,
        })  # fmt: skip

    async def latent(request: Request) -> Response:
        seed = specs.integer(request.query_params, "seed", 0, 0, specs.MAX_SEED)
        return JSONResponse({"seed": seed, "latent": [round(float(v), 6) for v in g.latent(seed)]})

    async def piece(request: Request) -> Response:
        spec = specs.piece_spec(request.query_params, g.latent_dim)
        start = time.perf_counter()
        made = await engine.run(piece_of, g, spec)
        return JSONResponse({**piece_json(made), "seed": spec.seed, "ms": round(1000 * (time.perf_counter() - start), 1)})

    async def midi(request: Request) -> Response:
        spec = specs.piece_spec(request.query_params, g.latent_dim)
        made = await engine.run(piece_of, g, spec)
        return _download(made.midi_bytes(spec.velocity), "audio/midi", _filename(g, spec, ".mid"))

    async def png(request: Request) -> Response:
        import io

        from PIL import Image

        spec = specs.piece_spec(request.query_params, g.latent_dim)
        made = await engine.run(piece_of, g, spec)
        buffer = io.BytesIO()
        Image.fromarray(np.where(made.roll, 255, 0).astype(np.uint8), mode="L").save(buffer, format="PNG")
        return _download(buffer.getvalue(), "image/png", _filename(g, spec, ".png"))

    async def wav(request: Request) -> Response:
        spec = specs.piece_spec(request.query_params, g.latent_dim)
        made = await engine.run(piece_of, g, spec)
        playing = request.query_params.get("play") == "1"
        body = await engine.run(lambda: made.wav_bytes(spec.velocity, rate=PLAY_RATE, mono=True) if playing else made.wav_bytes(spec.velocity))
        return _download(body, "audio/wav", _filename(g, spec, ".wav"), inline=playing)

    async def variations(request: Request) -> Response:
        spec = specs.piece_spec(request.query_params, g.latent_dim)
        n = specs.integer(request.query_params, "n", 4, 1, specs.MAX_VARIATIONS)
        spread = specs.number(request.query_params, "spread", 0.35, 0.01, 3.0)
        centre = np.array(spec.latent) if spec.latent is not None else g.latent(spec.seed)
        made = await engine.run(
            lambda: g.variations(centre, n=n, spread=spread, seed=spec.seed, length=spec.length, threshold=spec.threshold, key=spec.key, bpm=spec.bpm)
        )
        return JSONResponse({"pieces": [piece_json(p) for p in made]})

    async def invert(request: Request) -> Response:
        name = request.query_params.get("name", "upload")[:200]
        declared = request.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > MAX_UPLOAD):
            raise HTTPException(413, f"{_shown(name)}: uploads are limited to {MAX_UPLOAD // 1024} KB")
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_UPLOAD:
                raise HTTPException(413, f"{_shown(name)}: uploads are limited to {MAX_UPLOAD // 1024} KB")
        if not body:
            raise PianoganError(f"{_shown(name)}: the upload is empty")
        threshold = specs.number(request.query_params, "threshold", 0.5, 0.01, 0.99)
        start = time.perf_counter()
        found = await engine.run_inversion(lambda: g.invert(bytes(body), name=name, threshold=threshold, seconds=SEARCH_SECONDS))
        return JSONResponse({
            "name": found.target.origin["name"], "target": piece_json(found.target), "piece": piece_json(found.piece),
            "iou": round(found.iou, 4), "evaluations": found.evaluations, "ms": round(1000 * (time.perf_counter() - start)),
        })  # fmt: skip

    async def nearest(request: Request) -> Response:
        spec = specs.piece_spec(request.query_params, g.latent_dim)
        if await engine.run(lambda: g.training is None):
            return JSONResponse({"nearest": None})
        made = await engine.run(piece_of, g, spec)
        found = await engine.run(g.nearest_training, [made])
        return JSONResponse({"nearest": found[0] if found else None})

    async def user_error(request: Request, error: Exception) -> Response:
        return JSONResponse({"error": str(error)}, status_code=429 if isinstance(error, Busy) else 400)

    async def http_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, HTTPException)
        return JSONResponse({"error": error.detail}, status_code=error.status_code, headers=error.headers)

    async def server_error(request: Request, error: Exception) -> Response:
        log.exception("request %s failed", request.url.path)
        return JSONResponse({"error": f"internal error ({type(error).__name__}); the server keeps running"}, status_code=500)

    async def no_icon(request: Request) -> Response:
        return Response(status_code=204)  # browsers ask for one; the page has none

    routes = [Route(path, asset) for path in ASSETS] + [
        Route("/favicon.ico", no_icon),
        Route("/api/info", info),
        Route("/api/latent", latent),
        Route("/api/piece", piece),
        Route("/api/piece.mid", midi),
        Route("/api/piece.png", png),
        Route("/api/piece.wav", wav),
        Route("/api/variations", variations),
        Route("/api/nearest", nearest),
        Route("/api/invert", invert, methods=["POST"]),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={PianoganError: user_error, HTTPException: http_error, Exception: server_error},
    )
    app.state.engine = engine
    return app


def _shown(name: str) -> str:
    """An upload's name as errors show it (``sources.safe_name``)."""
    from pianogan.compose.sources import safe_name

    return safe_name(name)


def _download(body: bytes, kind: str, filename: str, inline: bool = False) -> Response:
    disposition = "inline" if inline else f'attachment; filename="{filename}"'
    return Response(body, media_type=kind, headers={"content-disposition": disposition})


class SecurityHeaders:
    """ASGI middleware adding ``SECURITY_HEADERS`` to every HTTP response."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def with_headers(message):
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *SECURITY_HEADERS]}
            await send(message)

        await self.app(scope, receive, with_headers)


def wrap(app: Starlette, host: str):
    """The app with its security headers and, on a loopback address, loopback Host names only."""
    loopback = host in ("127.0.0.1", "localhost", "::1") or host.startswith("127.")
    allowed = [*LOOPBACK_NAMES, host] if loopback else ["*"]
    return SecurityHeaders(TrustedHostMiddleware(app, allowed_hosts=allowed))

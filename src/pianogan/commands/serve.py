"""``pianogan serve``: compose in the browser, with the generator answering as sliders move."""

from __future__ import annotations

import argparse
import socket
import sys
from pathlib import Path

from pianogan.errors import PianoganError

DESCRIPTION = """\
Start a local web app: the 14 latent numbers as sliders, a seed and a "new piece" button,
the roll redrawn as you move them, key, tempo, length and note threshold, playback in
the page, MIDI / WAV / PNG downloads, a list of kept pieces with morphing between two,
and "vary my music": upload a MIDI file or a roll PNG to find the nearest piece the model
can write and variations around it. With the model's training set at hand (--training),
each piece shows its nearest training window. Everything is served from this machine;
the page needs no network.

It listens on 127.0.0.1 (this machine only) unless --host says otherwise. Stop it with
Ctrl-C.
"""


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "serve", help="a local web app to compose with the generator", description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    p.add_argument("--model", type=Path, metavar="PATH", help="generator .keras file (default: $PIANOGAN_MODEL or the shipped one)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only; 0.0.0.0 opens it to the network)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
    p.add_argument(
        "--training", type=Path, metavar="DATASET",
        help="prepared dataset whose train split the page compares each piece with (default: the model's own when at hand)",
    )  # fmt: skip
    p.set_defaults(run=run)


def bind(host: str, port: int) -> socket.socket:
    """A listening socket, so that the address printed is the one really bound (port 0 included)."""
    if not 0 <= port <= 65535:
        raise PianoganError(f"--port must be 0..65535, got {port}")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as error:
        raise PianoganError(f"--host {host}: unknown address ({error.strerror})") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as error:
        sock.close()
        raise PianoganError(f"cannot listen on {host}:{port} ({error.strerror})") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from pianogan import api
    from pianogan.serve.app import create_app, wrap

    sock = bind(args.host, args.port)
    generator = api.load_generator(args.model, training=args.training)
    if args.training is not None:
        generator.training  # noqa: B018  (reads the training set now, so a bad --training fails before the server starts)
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    if not (host.startswith("127.") or host == "::1"):
        print(f"pianogan serve: listening on {host}: anyone who can reach this machine can use the app", file=sys.stderr)
    config = uvicorn.Config(
        wrap(create_app(generator), host), log_level="warning", timeout_keep_alive=5, limit_concurrency=64,
        h11_max_incomplete_event_size=16 * 1024,
    )  # fmt: skip
    print(f"pianogan serve: http://{shown}:{port}/ (model {generator.path.name}, {generator.runtime})", flush=True)
    uvicorn.Server(config).run(sockets=[sock])
    return 0

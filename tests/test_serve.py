"""`pianogan serve` over HTTP on loopback: answers, downloads, errors, uploads, concurrency, fuzz."""

from __future__ import annotations

import http.client
import io
import random
import socket
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote, urlsplit

import numpy as np
import pytest
import symusic
from PIL import Image
from serving import live_server

import pianogan
from pianogan.cli import build_parser
from pianogan.errors import PianoganError
from pianogan.io.midi import read_midi
from pianogan.io.png import read_png
from pianogan.serve.app import MAX_UPLOAD, piece_json


@pytest.fixture(scope="module")
def g(model_path):
    return pianogan.load_generator(model_path)


@pytest.fixture(scope="module")
def url(model_path):
    with live_server(model_path) as base:
        yield base


def call(url: str, path: str, method: str = "GET", body: bytes | None = None, headers: dict | None = None, timeout: float = 60):
    """One request on a fresh connection: (status, headers, body)."""
    where = urlsplit(url)
    connection = http.client.HTTPConnection(where.hostname, where.port, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def get_json(url: str, path: str, **options):
    import json

    status, headers, body = call(url, path, **options)
    assert headers["content-type"] == "application/json", (status, body[:200])
    return status, json.loads(body)


def test_it_listens_on_loopback_unless_told_otherwise(url):
    assert build_parser().parse_args(["serve"]).host == "127.0.0.1"
    assert urlsplit(url).hostname == "127.0.0.1"
    status, body = get_json(url, "/api/info")
    assert status == 200 and body["runtime"] == "numpy" and body["latent_dim"] == 14 and len(body["keys"]) == 24


def test_a_piece_is_the_apis_piece(url, g):
    status, body = get_json(url, "/api/piece?seed=5")
    expected = piece_json(g.piece(g.latent(5), seed=5))
    assert status == 200 and body["notes"] == expected["notes"] and body["latent"] == expected["latent"]
    rounded = ",".join(f"{v:.6f}" for v in g.latent(5))  # as the page sends the seed's latent back
    assert get_json(url, f"/api/piece?seed=5&latent={rounded}")[1]["notes"] == body["notes"]
    latent = g.latent(5) + 0.7
    _, moved = get_json(url, f"/api/piece?seed=5&latent={','.join(map(str, latent))}")
    assert moved["notes"] == piece_json(g.piece(latent, seed=5))["notes"] != body["notes"]
    other = g.latent(9)
    _, morphed = get_json(url, f"/api/piece?seed=5&towards={','.join(map(str, other))}&t=1")
    assert morphed["notes"] == piece_json(g.piece(other, seed=5))["notes"]
    _, slow = get_json(url, f"/api/piece?seed=5&bpm=60&key={quote('A minor')}&length=600")
    assert slow["seconds"] == 150.0 and slow["columns"] == 600 and slow["key"] in ("A minor", "C major")


def test_downloads_are_the_piece(url, g, tmp_path):
    piece = g.piece(g.latent(2), seed=2).at_bpm(80)
    status, headers, body = call(url, "/api/piece.mid?seed=2&bpm=80")
    assert status == 200 and headers["content-disposition"] == 'attachment; filename="pianogan-seed2.mid"'
    (tmp_path / "d.mid").write_bytes(body)
    roll, _ = read_midi(tmp_path / "d.mid")
    assert np.array_equal(roll, piece.roll[:, : roll.shape[1]]) and symusic.Score(str(tmp_path / "d.mid")).tempos[0].qpm == 80
    status, _, body = call(url, "/api/piece.png?seed=2")
    (tmp_path / "d.png").write_bytes(body)
    assert status == 200 and np.array_equal(read_png(tmp_path / "d.png"), piece.roll)


def upload(url: str, data: bytes, name: str = "song.mid"):
    return get_json(url, f"/api/invert?name={quote(name)}", method="POST", body=data)


def test_an_uploaded_midi_file_gets_its_nearest_piece(url, g, tmp_path):
    mine = g.sample(1, seed=8)[0]
    status, body = upload(url, mine.midi_bytes(), "my song.mid")
    assert status == 200 and body["name"] == "my song.mid" and body["iou"] > 0.8
    assert len(body["piece"]["latent"]) == 14 and body["target"]["columns"] == 300
    _, variations = get_json(url, f"/api/variations?n=3&latent={','.join(map(str, body['piece']['latent']))}")
    assert len(variations["pieces"]) == 3


def bad_png(height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (30, height)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.parametrize(
    "path, method, body, status, message",
    [
        ("/api/piece?seed=-1", "GET", None, 400, "seed must be 0..4294967295, got -1"),
        ("/api/piece?latent=1,2", "GET", None, 400, "latent: expected 14 comma-separated numbers, got 2"),
        ("/api/piece?threshold=nan", "GET", None, 400, "threshold must be 0.01..0.99, got nan"),
        ("/api/piece?key=H%20major", "GET", None, 400, "key 'H major': unknown tonic 'H'"),
        ("/api/piece?length=99999", "GET", None, 400, "length must be 1..2400, got 99999"),
        ("/etc/passwd", "GET", None, 404, "Not Found"),
        ("/api/piece", "POST", b"x", 405, "Method Not Allowed"),
        ("/api/invert?name=..%2F..%2Fnotes.txt", "POST", b"hello", 400, "notes.txt: neither a MIDI file nor a PNG image"),
        ("/api/invert?name=roll.png", "POST", bad_png(10), 400, "roll.png: image is 10 pixels high, a roll must be 106"),
        ("/api/invert", "POST", b"", 400, "upload: the upload is empty"),
        ("/api/invert?name=big.mid", "POST", b"MThd" + bytes(MAX_UPLOAD), 413, "big.mid: uploads are limited to 2048 KB"),
    ],
)
def test_bad_requests_get_one_line_json_errors(url, path, method, body, status, message):
    got, answer = get_json(url, path, method=method, body=body)
    assert got == status and message in answer["error"] and "\n" not in answer["error"]


def test_an_unreadable_midi_upload_gets_the_command_lines_error(url, tmp_path):
    data = b"MThd\x00\x00\x00\x06\x00\x01\x00\x01\x01\xe0MTrk\x00\x00\x10\x00\x90\x3c"  # a track cut short
    (tmp_path / "cut.mid").write_bytes(data)
    with pytest.raises(PianoganError) as cli:
        read_midi(tmp_path / "cut.mid")
    status, answer = upload(url, data, "cut.mid")
    assert status == 400 and answer["error"] == str(cli.value).replace(str(tmp_path / "cut.mid"), "cut.mid")


def test_other_host_names_are_refused_on_loopback(url):
    status, _, _ = call(url, "/api/info", headers={"Host": "attacker.example"})
    assert status == 400


def test_concurrent_requests_get_the_answers_of_sequential_ones(url):
    paths = [f"/api/piece?seed={k % 6}&threshold={0.4 + 0.05 * (k % 3):.2f}" for k in range(36)]
    sequential = {path: get_json(url, path)[1]["notes"] for path in set(paths)}
    with ThreadPoolExecutor(12) as pool:
        answers = list(pool.map(lambda p: get_json(url, p), paths))
    assert all(status == 200 for status, _ in answers)
    assert all(body["notes"] == sequential[path] for path, (_, body) in zip(paths, answers))


def random_request(rng: random.Random) -> tuple[str, str, bytes | None, dict]:
    """A malformed or random request: any method, path, parameters and body."""
    paths = ["/", "/app.js", "/api/info", "/api/latent", "/api/piece", "/api/piece.mid", "/api/piece.png",
             "/api/variations", "/api/nearest", "/api/invert", "/api/../../etc/passwd", "/%2e%2e/%2e%2e/", "/api/piece%00", "/" + "a" * 3000]  # fmt: skip
    names = ["seed", "latent", "towards", "t", "length", "threshold", "key", "bpm", "velocity", "transpose", "n", "spread", "name"]
    values = [lambda: str(rng.randint(-10**12, 10**12)), lambda: repr(rng.uniform(-1e6, 1e6)), lambda: rng.choice(["nan", "inf", "-inf", "1e309", "", "0x10", "None"]),
              lambda: ",".join(repr(rng.gauss(0, 3)) for _ in range(rng.choice([0, 1, 13, 14, 15, 400]))),
              lambda: "".join(chr(rng.randint(1, 0x2FFF)) for _ in range(rng.randint(1, 40))), lambda: "x" * rng.choice([10, 5000]),
              lambda: rng.choice(["C major", "a minor", "H dorian", "Eb", "any"])]  # fmt: skip
    query = "&".join(f"{quote(rng.choice(names))}={quote(rng.choice(values)())}" for _ in range(rng.randint(0, 6)))
    method = rng.choice(["GET", "GET", "GET", "POST", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH"])
    body = None
    if method in ("POST", "PUT", "PATCH"):
        head = rng.choice([b"", b"MThd", b"MThd\x00\x00\x00\x06\x00\x00\x00\x01\x00\x60MTrk", b"\x89PNG\r\n\x1a\n", b'{"a": 1}'])
        body = head + rng.randbytes(rng.choice([0, 10, 1000, 20000]))
    return method, rng.choice(paths) + (f"?{query}" if query else ""), body, {}


def raw_garbage(url: str, rng: random.Random) -> None:
    """Bytes that are not HTTP at all, or HTTP broken on purpose; whatever comes back is fine."""
    where = urlsplit(url)
    data = rng.choice([rng.randbytes(200), b"GET / HTTP/9.9\r\n\r\n", b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n",
                       b"POST /api/invert HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 99999999\r\n\r\nMThd", b"\r\n\r\n\r\n"])  # fmt: skip
    with socket.create_connection((where.hostname, where.port), timeout=10) as sock:
        try:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
            while sock.recv(65536):
                pass
        except OSError:
            pass


def test_a_thousand_malformed_or_random_requests_leave_it_answering(url):
    rng = random.Random(20261201)
    statuses = []
    for k in range(1000):
        if k % 20 == 0:
            raw_garbage(url, rng)
            continue
        method, path, body, headers = random_request(rng)
        status, _, _ = call(url, path, method=method, body=body, headers=headers)
        statuses.append(status)
    assert all(status < 500 for status in statuses), sorted(set(statuses))
    assert len(set(statuses)) > 3  # the fuzz reached several kinds of answer
    status, body = get_json(url, "/api/info")
    assert status == 200 and body["latent_dim"] == 14

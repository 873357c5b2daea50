"""A speech server over real HTTP that speaks with espeak-ng, for tests and benchmarks.

It stands in for the servers the ``http`` engine talks to (a Kokoro or other
OpenAI-compatible server, a cloud service with a JSON API), answering with real audio
synthesised by espeak-ng, the server's voice names being espeak-ng's:

- ``POST /v1/audio/speech``: the OpenAI-compatible call; ``{"model", "input", "voice",
  "response_format" ("wav" or "mp3"), "speed"}`` -> the audio.
- ``POST /v1/text:synthesize``: Google Cloud TTS's shape; ``{"input": {"text"}, "voice":
  {"languageCode", "name"}, "audioConfig": {"speakingRate"}}`` -> ``{"audioContent":
  base64 WAV}``.
- ``POST /raw``: a flat JSON body ``{"text", "voice", "words_per_minute"}`` -> the WAV.

What it does with each next request can be scripted (``then``): answer a status (with a
``Retry-After``), hang until the test ends, dribble a byte at a time, or speak (the
default). Every request is
kept in ``requests`` (headers and JSON body), so a test can check what reached it.

Demo: ``python -m devtools.tts_server --port 8880``.
"""

from __future__ import annotations

import argparse
import base64
import json
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from voices import AudioFormat, EspeakEngine
from voices.audio import encode

NORMAL_WORDS_PER_MINUTE = 150
HANG_LIMIT_S = 60.0
"""A hanging request gives up after this, so a failed test cannot leave it waiting."""


@dataclass(frozen=True)
class Answer:
    """What the server does with one request: ``speak``, ``hang`` or answer ``status``."""

    action: str = "speak"
    status: int = 200
    retry_after: str | None = None


SPEAK = Answer()
HANG = Answer("hang")
DRIBBLE = Answer("dribble")
"""Answer 200 and then a byte every ``DRIBBLE_INTERVAL_S``: never a read timeout, never done."""
DRIBBLE_INTERVAL_S = 0.05


def status(code: int, retry_after: str | None = None) -> Answer:
    return Answer("status", code, retry_after)


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class TtsServer:
    """The running server; ``url`` is its base (``http://127.0.0.1:PORT``)."""

    host: str = "127.0.0.1"
    port: int = 0
    requests: list[Received] = field(default_factory=list)
    _script: deque[Answer] = field(default_factory=deque)
    _released: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    memo: bool = False
    """Keep each spoken text's audio and answer repeats from memory: what is left of a
    request's time is then the HTTP round trip (a benchmark's view of the overhead)."""
    _spoken: dict[tuple[str, str, float], bytes] = field(default_factory=dict)
    _engine: EspeakEngine = field(default_factory=EspeakEngine)
    _httpd: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def then(self, *answers: Answer) -> None:
        """Answer the next requests so, in order; afterwards speak again."""
        with self._lock:
            self._script.extend(answers)

    def start(self) -> TtsServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                server._handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # the request line holds no text, but a test's output needs no noise

        self._httpd = ThreadingHTTPServer((self.host, self.port), Handler)
        self._httpd.daemon_threads = True
        self.port = int(self._httpd.server_address[1])
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._released.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()

    def _next(self) -> Answer:
        with self._lock:
            return self._script.popleft() if self._script else SPEAK

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length", "0"))
        raw = handler.rfile.read(length)
        body: Any = json.loads(raw) if raw else {}
        with self._lock:
            self.requests.append(Received(handler.path, dict(handler.headers.items()), body))
        answer = self._next()
        if answer.action == "hang":
            self._released.wait(HANG_LIMIT_S)
            return
        if answer.action == "dribble":
            self._dribble(handler)
            return
        if answer.action == "status":
            extra = {"Retry-After": answer.retry_after} if answer.retry_after else {}
            _reply(handler, answer.status, b'{"error": "scripted"}', "application/json", extra)
            return
        if handler.path == "/v1/audio/speech":
            wav = self._speak(body["input"], body["voice"], float(body.get("speed", 1.0)))
            if body.get("response_format", "mp3") == "mp3":
                _reply(handler, 200, encode(wav, AudioFormat.APP).data, "audio/mpeg")
            else:
                _reply(handler, 200, wav, "audio/wav")
        elif handler.path == "/v1/text:synthesize":
            rate = float(body.get("audioConfig", {}).get("speakingRate", 1.0))
            wav = self._speak(body["input"]["text"], body["voice"]["name"], rate)
            content = json.dumps({"audioContent": base64.b64encode(wav).decode("ascii")})
            _reply(handler, 200, content.encode("ascii"), "application/json")
        elif handler.path == "/raw":
            speed = int(body["words_per_minute"]) / NORMAL_WORDS_PER_MINUTE
            _reply(handler, 200, self._speak(body["text"], body["voice"], speed), "audio/wav")
        else:
            _reply(handler, 404, b'{"error": "no such path"}', "application/json")

    def _dribble(self, handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "audio/wav")
        handler.send_header("Content-Length", str(1 << 20))
        handler.end_headers()
        handler.wfile.flush()
        try:
            while not self._released.wait(DRIBBLE_INTERVAL_S):
                handler.wfile.write(b"\0")
                handler.wfile.flush()
        except OSError:
            pass  # the client gave up

    def _speak(self, text: str, voice: str, speed: float) -> bytes:
        key = (text, voice, speed)
        if self.memo and key in self._spoken:
            return self._spoken[key]
        wav = self._engine.synthesize(text, "", voice, round(NORMAL_WORDS_PER_MINUTE * speed))
        if self.memo:
            self._spoken[key] = wav
        return wav


def _reply(
    handler: BaseHTTPRequestHandler,
    code: int,
    data: bytes,
    content_type: str,
    headers: dict[str, str] | None = None,
) -> None:
    handler.send_response(code)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(data)))
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8880)
    args = parser.parse_args()
    server = TtsServer(port=args.port).start()
    print(f"speaking on {server.url}/v1/audio/speech (Ctrl-C stops)")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()

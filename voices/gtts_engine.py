"""Google Translate's voices through gTTS: online, optional, off unless enabled.

It sends the text (PHI) to Google without a business associate agreement, so it is built
only when the settings enable it. Its edges, contained here: it has no time limit of its
own (it waited forever on a silent network), so every request gets one and the whole
render a deadline; it leaves a 0-byte file when it fails, so audio is written to memory
first; it splits text into one request per phrase, so renders are throttled to keep a
burst under Google's limits; it hides a failure's cause in ``__cause__``, which is kept
as the cause of the ``SynthesisFailed`` raised here.

When it fails or overruns, the Speaker falls back to the language's offline voice and
records that it did (``SpokenAudio.fallback_from``).
"""

from __future__ import annotations

import io
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from voices.audio import decode_to_wav
from voices.base import SynthesisFailed, SynthesisTimeout, check_text

__all__ = ["GTTS_DEFAULT_TIMEOUT_S", "GTTS_MIN_INTERVAL_S", "GttsEngine"]

# A whole render (every phrase request) must finish within this, fallback included in
# the caller's budget: a patient's call should not wait on Google.
GTTS_DEFAULT_TIMEOUT_S = 10.0

# At most one render starts per this interval in a process: a burst of reminders then
# reaches Google as a steady trickle instead of tripping its rate limit.
GTTS_MIN_INTERVAL_S = 0.5

# Renders left running after their deadline each hold a thread until gTTS's own request
# timeout ends them; a small pool bounds how many can pile up.
_MAX_RENDER_THREADS = 4


class GttsEngine:
    """The ``gtts`` engine. ``voice`` is gTTS's language code ("tl", "es")."""

    name = "gtts"
    # One request per phrase already; whole messages are cached by the Speaker.
    sentence_cache = False

    def __init__(
        self,
        *,
        timeout_s: float = GTTS_DEFAULT_TIMEOUT_S,
        min_interval_s: float = GTTS_MIN_INTERVAL_S,
    ) -> None:
        self._timeout_s = timeout_s
        self._min_interval_s = min_interval_s
        self._throttle = threading.Lock()
        self._next_start = 0.0
        self._pool = ThreadPoolExecutor(_MAX_RENDER_THREADS, thread_name_prefix="gtts")

    def synthesize(self, text: str, language: str, voice: str, words_per_minute: int) -> bytes:
        """Speak ``text`` with Google's ``voice``; raises ``SynthesisFailed`` within the bound.

        ``words_per_minute`` below 140 asks Google for its slow reading, the only rate
        control it has.
        """
        text = check_text(text)
        deadline = time.monotonic() + self._timeout_s
        self._wait_turn(deadline)
        remaining = deadline - time.monotonic()
        future: Future[bytes] = self._pool.submit(
            _fetch_mp3, text, voice, words_per_minute < 140, remaining
        )
        try:
            mp3 = future.result(timeout=max(0.0, deadline - time.monotonic()))
        except FutureTimeout as err:
            raise SynthesisTimeout(
                f"gtts gave no audio within {self._timeout_s:g} s (voice {voice!r})"
            ) from err
        return decode_to_wav(mp3, "mp3")

    def _wait_turn(self, deadline: float) -> None:
        """Throttle: start no sooner than ``min_interval_s`` after the previous render."""
        with self._throttle:
            start = max(time.monotonic(), self._next_start)
            if start > deadline:
                raise SynthesisTimeout("gtts is throttled past this render's deadline")
            self._next_start = start + self._min_interval_s
        time.sleep(max(0.0, start - time.monotonic()))


def _fetch_mp3(text: str, voice: str, slow: bool, timeout_s: float) -> bytes:
    """All of gTTS's phrase requests into memory; each request bounded by ``timeout_s``."""
    from gtts import gTTS, gTTSError

    out = io.BytesIO()
    try:
        gTTS(text, lang=voice, slow=slow, timeout=max(timeout_s, 0.1)).write_to_fp(out)
    except (gTTSError, AssertionError, ValueError, RuntimeError) as err:
        # gTTS wraps the network error; its __cause__ names it without quoting the text.
        cause = type(err.__cause__).__name__ if err.__cause__ else type(err).__name__
        failure = SynthesisTimeout if _timed_out(err) else SynthesisFailed
        raise failure(f"gtts failed with voice {voice!r}: {cause}") from err
    data = out.getvalue()
    if not data:
        raise SynthesisFailed(f"gtts returned no audio for voice {voice!r}")
    return data


def _timed_out(err: BaseException) -> bool:
    """Whether a timeout (requests' own, or the socket's) lies under ``err``.

    Through a proxy, requests raises a connect that timed out as a ``ProxyError``: the
    timeout is only in the chain of causes."""
    from requests import Timeout

    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        if isinstance(current, (Timeout, TimeoutError)):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False

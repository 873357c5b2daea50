"""pyttsx3 with its real Linux backend (espeak-ng): each of its measured failure modes,
provoked, and survived by the contained engine."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Iterator

import pytest

from voices import Pyttsx3Engine, SynthesisFailed, SynthesisTimeout, UnknownVoice
from voices.audio import read_wav

SPANISH = "roa/es-419"
ENGLISH = "gmw/en-us"
LONG_TEXT = (
    "Hello, this is Riverside Clinic calling to remind you about your appointment "
    "tomorrow morning at ten o'clock with Doctor Chen on the second floor. "
) * 3
SHORT_TEXT = "Your appointment is tomorrow."
HANG_TIMEOUT_S = 3.0


@pytest.fixture
def engine() -> Iterator[Pyttsx3Engine]:
    contained = Pyttsx3Engine(timeout_s=HANG_TIMEOUT_S)
    yield contained
    contained.close()


def seconds(wav: bytes) -> float:
    return read_wav(wav).duration_s


def test_first_long_render_after_start_is_not_lost(engine):
    """pyttsx3 drops the first long render after init(); the child's warm-up takes it."""
    duration = seconds(engine.synthesize(LONG_TEXT, "en", ENGLISH, 150))
    assert duration > len(LONG_TEXT.split()) * 60 / 150 * 0.6


def test_back_to_back_renders_each_get_their_own_audio(engine):
    """Two saves queued in one run drop the first; an empty run re-writes the last file.
    One save per run, each to a fresh file, so each render is its own."""
    long = seconds(engine.synthesize(LONG_TEXT, "en", ENGLISH, 150))
    short = seconds(engine.synthesize(SHORT_TEXT, "en", ENGLISH, 150))
    again = seconds(engine.synthesize(LONG_TEXT, "en", ENGLISH, 150))

    assert short < long / 4
    assert again == pytest.approx(long, rel=0.05)


def test_voice_of_another_language_is_refused_not_spoken_in_english(engine):
    with pytest.raises(UnknownVoice, match="not 'es'"):
        engine.synthesize("Hola, su cita es mañana.", "es", ENGLISH, 150)
    with pytest.raises(UnknownVoice, match="no voice"):
        engine.synthesize("Hola.", "es", "roa/no-such-voice", 150)
    assert seconds(engine.synthesize("Hola, su cita es mañana.", "es", SPANISH, 150)) > 1.0


def test_two_engines_in_one_process_both_speak(engine):
    """A second pyttsx3 engine in one process hangs; each of ours has its own child."""
    other = Pyttsx3Engine(timeout_s=HANG_TIMEOUT_S)
    try:
        assert seconds(engine.synthesize(SHORT_TEXT, "en", ENGLISH, 150)) > 0.5
        assert seconds(other.synthesize(SHORT_TEXT, "en", ENGLISH, 150)) > 0.5
        assert engine.child_pid != other.child_pid
    finally:
        other.close()


def test_threads_share_one_engine_without_crashing_it(engine):
    """Two threads on an unlocked pyttsx3 engine crash the process; ours take turns."""
    results: list[float] = []
    errors: list[BaseException] = []

    def speak() -> None:
        try:
            results.append(seconds(engine.synthesize(SHORT_TEXT, "en", ENGLISH, 150)))
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=speak) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert not errors and len(results) == 4
    assert max(results) == pytest.approx(min(results), rel=0.05)


def _render_in_forked_child(queue: multiprocessing.Queue) -> None:
    fresh = Pyttsx3Engine(timeout_s=HANG_TIMEOUT_S)
    try:
        queue.put(seconds(fresh.synthesize(SHORT_TEXT, "en", ENGLISH, 150)))
    finally:
        fresh.close()


def test_forking_after_use_does_not_hang_the_fork(engine):
    """Forking a process that initialised pyttsx3 hangs the child; this process never
    initialises it (the engine lives in a spawned child), so a fork still speaks."""
    engine.synthesize(SHORT_TEXT, "en", ENGLISH, 150)
    queue: multiprocessing.Queue = multiprocessing.get_context("fork").Queue()
    child = multiprocessing.get_context("fork").Process(
        target=_render_in_forked_child, args=(queue,)
    )
    child.start()
    child.join(timeout=60)
    try:
        assert child.exitcode == 0
        assert queue.get(timeout=1) > 0.5
    finally:
        if child.is_alive():
            child.kill()


def test_slow_rate_is_applied_or_the_audio_refused(engine):
    """pyttsx3 does not reliably apply a rate: audio at the wrong rate must never be
    handed on as if it were right. Either the slow render is slower, or it is refused."""
    normal = seconds(engine.synthesize(LONG_TEXT, "en", ENGLISH, 150))
    try:
        slow = seconds(engine.synthesize(LONG_TEXT, "en", ENGLISH, 100))
    except SynthesisFailed as err:
        assert "expected" in str(err)
    else:
        assert slow > normal * 1.3


def test_hung_child_is_killed_within_the_timeout_and_replaced(engine):
    engine.synthesize(SHORT_TEXT, "en", ENGLISH, 150)
    hung = engine.child_pid
    assert hung is not None
    os.kill(hung, signal.SIGSTOP)  # the child stops answering, as a hung driver does

    started = time.monotonic()
    with pytest.raises(SynthesisTimeout):
        engine.synthesize(SHORT_TEXT, "en", ENGLISH, 150)
    assert time.monotonic() - started < HANG_TIMEOUT_S + 1.0
    with pytest.raises(ProcessLookupError):
        os.kill(hung, 0)  # killed and reaped, with its process group

    assert seconds(engine.synthesize(SHORT_TEXT, "en", ENGLISH, 150)) > 0.5
    assert engine.child_pid != hung


def test_crashed_child_is_replaced_on_the_next_render(engine):
    engine.synthesize(SHORT_TEXT, "en", ENGLISH, 150)
    crashed = engine.child_pid
    assert crashed is not None
    os.kill(crashed, signal.SIGKILL)
    time.sleep(0.1)

    assert seconds(engine.synthesize(SHORT_TEXT, "en", ENGLISH, 150)) > 0.5
    assert engine.child_pid not in (None, crashed)


def test_nothing_reaches_this_process_stdout(engine, capfd):
    """pyttsx3 prints "Audio saved to ..." on every save (a file name, a log line)."""
    engine.synthesize(SHORT_TEXT, "en", ENGLISH, 150)
    assert capfd.readouterr().out == ""

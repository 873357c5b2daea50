"""Group commit: messages that arrive together on different connections are stored in
one transaction, each acknowledged only once it is committed.

A connection has at most one message in flight (the listener answers each before it
reads the next), so a batch holds at most one message of each connection and a sender's
order is kept. A writer thread takes whatever messages are waiting when it is free:
it never waits for more, so a lone message is stored at once, and under load the
batches grow by themselves while the previous one commits. Most of a message's cost in
the listener is per statement, not per row, so a batch of eight costs little more than
one message did.

Which messages a batch can store, and what happens to the others, is the sink's
(``StoringSink.apply_many``): a message it leaves out is stored alone, with ``apply``,
in the thread that handed it over, after the batch it came in has committed.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from typing import Protocol

from service.intake.hl7.handler import MessageHandler
from service.intake.hl7.schedule import ScheduleMessage
from service.intake.hl7.sink import SinkResult
from service.intake.hl7.store import StoringSink
from workers.pipeline import Pipeline

BATCH_LIMIT = 64
"""At most this many messages in one transaction (the listener's threads bound it first)."""
WRITERS = 2
"""Batches being stored at once: while one waits on the database (a round trip, or a
core held by another process), the next is read and written, as separate connections'
transactions overlapped before group commit. Two batches that create the same
appointment meet on its unique key: the later one is rolled back and stored one by one."""


class BatchSink(Protocol):
    def apply(self, message: ScheduleMessage) -> SinkResult: ...

    def apply_many(self, messages: Sequence[ScheduleMessage]) -> list[SinkResult | None]: ...


Waiting = tuple[ScheduleMessage, "Future[SinkResult | None]"]


class GroupCommit:
    """A ``ScheduleSink`` that stores through ``sink`` in batches (see the module)."""

    def __init__(self, sink: BatchSink, limit: int = BATCH_LIMIT, writers: int = WRITERS) -> None:
        self.sink = sink
        self.limit = limit
        self.writers = writers
        self._waiting: queue.SimpleQueue[Waiting] = queue.SimpleQueue()
        self._started = False
        self._start = threading.Lock()

    @property
    def waiting(self) -> int:
        """Messages handed over and not yet taken into a batch."""
        return self._waiting.qsize()

    def apply(self, message: ScheduleMessage) -> SinkResult:
        answer: Future[SinkResult | None] = Future()
        self._waiting.put((message, answer))
        self._ensure_writer()
        result = answer.result()
        return self.sink.apply(message) if result is None else result

    def _ensure_writer(self) -> None:
        with self._start:
            if not self._started:
                for n in range(self.writers):
                    name = f"hl7-group-commit-{n}"
                    threading.Thread(target=self._write_batches, name=name, daemon=True).start()
                self._started = True

    def _write_batches(self) -> None:
        while True:
            batch = [self._waiting.get()]
            while len(batch) < self.limit:
                try:
                    batch.append(self._waiting.get_nowait())
                except queue.Empty:
                    break
            try:
                results = self.sink.apply_many([message for message, _ in batch])
            except Exception:  # each is then stored alone and answered as it would be
                results = [None] * len(batch)
            for (_, answer), result in zip(batch, results, strict=True):
                answer.set_result(result)


def storing_handler(pipeline: Pipeline) -> MessageHandler:
    """The handler ``tellwell mllp`` and ``tellwell serve`` run: stored in the pipeline's
    database, in group commits."""
    return MessageHandler(GroupCommit(StoringSink.for_pipeline(pipeline)), pipeline.clock)

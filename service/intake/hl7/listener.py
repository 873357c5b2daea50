"""The MLLP listener: HL7 messages in over TCP, one ACK out for each.

Framing is the ``hl7`` library's asyncio MLLP server (``hl7.mllp``): its stream reader
collects a block (``<VT> message <FS><CR>``) however the bytes were split across TCP
reads, and one connection may carry any number of messages, each answered in turn, in
order. The handler (``MessageHandler.handle``) runs in one of the listener's worker
threads, so a slow store never stalls other connections.

What a sender's bytes cannot break:

- a client gone mid-message: the partial block is dropped with its connection;
- a block larger than ``MAX_MESSAGE_BYTES`` (a garbage stream): the connection is closed,
  since its framing can no longer be trusted; other connections and later clients are
  served as before;
- bytes between blocks (before a ``<VT>``): skipped, the block after them read (MLLP
  has a receiver ignore what precedes the start of a block; ``_BlockReader``);
- any character set: the text is decoded with MSH-18's charset when it names one we know,
  else as UTF-8, else as ISO 8859-1 (which reads every byte); the ACK goes back in the
  same encoding.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import multiprocessing.connection
import os
import re
import signal
import socket
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

from hl7.mllp import HL7StreamProtocol, HL7StreamReader, HL7StreamWriter, InvalidBlockError
from hl7.mllp.streams import START_BLOCK

log = logging.getLogger(__name__)

Handler = Callable[[str], str]
"""Message text in, ACK text out; must not raise (``MessageHandler.handle``)."""

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
MAX_MESSAGE_BYTES = 1024 * 1024
"""The largest message taken. An SIU message is a few kilobytes; a block this long is a
garbage stream, and the connection sending it is closed."""
HANDLER_THREADS = 32
"""Messages handled at once (one per connection at most): a handler mostly waits for its
group commit, so a thread per busy connection, up to this, lets the batches hold every
connection's message rather than the event loop's default handful (cores + 4)."""
FALLBACK_ENCODING = "iso-8859-1"
"""Decodes any bytes: what a message that is not UTF-8 and names no charset is read as."""
CHARSETS = {
    "ASCII": "ascii",
    "8859/1": "iso-8859-1",
    "8859/2": "iso-8859-2",
    "8859/5": "iso-8859-5",
    "8859/7": "iso-8859-7",
    "8859/8": "iso-8859-8",
    "8859/9": "iso-8859-9",
    "8859/15": "iso-8859-15",
    "UNICODE UTF-8": "utf-8",
    "UNICODE": "utf-8",
    "ISO IR192": "utf-8",
    "ISO IR6": "ascii",
    "ISO IR100": "iso-8859-1",
    "GB 18030-2000": "gb18030",
    "KS X 1001": "euc-kr",
    "BIG-5": "big5",
}
"""HL7 table 0211 (MSH-18) names and the Python codecs that read them."""


def decode_message(block: bytes) -> tuple[str, str]:
    """The text of one message and the codec it was read with (the ACK uses it too)."""
    declared = _declared_codec(block)
    for codec in (declared, "utf-8"):
        if codec is None:
            continue
        try:
            return block.decode(codec), codec
        except UnicodeDecodeError:
            continue
    return block.decode(FALLBACK_ENCODING), FALLBACK_ENCODING


def _declared_codec(block: bytes) -> str | None:
    header = re.split(rb"[\r\n]", block.lstrip(), maxsplit=1)[0].decode(FALLBACK_ENCODING)
    if not header.startswith("MSH") or len(header) < 4:
        return None
    fields = header.split(header[3])
    if len(fields) < 18:
        return None
    return CHARSETS.get(fields[17].split("~")[0].strip().upper())


class _BlockReader(HL7StreamReader):
    """The library's reader, but stray bytes before a block's ``<VT>`` are dropped instead
    of the block: its ``readblock`` refuses a block that does not begin with ``<VT>``."""

    async def readuntil(self, separator: bytes = b"\n") -> bytes:
        data = await super().readuntil(separator)
        start = data.rfind(START_BLOCK)
        return data[start:] if start > 0 else data


class MllpListener:
    """Serves ``handler`` over MLLP; ``start`` binds, ``close`` stops taking connections."""

    def __init__(
        self,
        handler: Handler,
        max_message_bytes: int = MAX_MESSAGE_BYTES,
        threads: int = HANDLER_THREADS,
    ) -> None:
        self.handler = handler
        self.max_message_bytes = max_message_bytes
        self._threads = ThreadPoolExecutor(threads, thread_name_prefix="mllp-handler")
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    async def start(self, host: str, port: int, reuse_port: bool = False) -> tuple[str, int]:
        """Bind and listen; the address actually bound (``port`` 0 picks a free one).

        ``reuse_port``: share the port with other processes' listeners (``SO_REUSEPORT``:
        the kernel gives each new connection to one of them, and it stays there)."""
        loop = asyncio.get_running_loop()

        def connection() -> HL7StreamProtocol:
            # As hl7.mllp.start_hl7_server builds it, with the reader above.
            reader = _BlockReader(limit=self.max_message_bytes, loop=loop)
            return HL7StreamProtocol(reader, self._serve_connection, loop=loop)

        self._server = await loop.create_server(
            connection, host, port, reuse_port=reuse_port or None
        )
        address = self._server.sockets[0].getsockname()
        return str(address[0]), int(address[1])

    async def close(self) -> None:
        """Stop listening and end open connections; a message being handled is answered
        first only if it finishes before its connection is cancelled."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        self._threads.shutdown(wait=False)

    async def _serve_connection(self, reader: HL7StreamReader, writer: HL7StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._connections.add(task)
        log.info("mllp: a connection opened (process %d)", os.getpid())
        try:
            await self._answer_each_message(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client went away, perhaps mid-message: nothing to answer
        finally:
            if task is not None:
                self._connections.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()

    async def _answer_each_message(self, reader: HL7StreamReader, writer: HL7StreamWriter) -> None:
        while True:
            try:
                block = await reader.readblock()
            except InvalidBlockError:
                log.warning("mllp: bytes outside a block were skipped")
                continue
            except ValueError:  # the library's limit overrun: no frame in sight
                log.warning(
                    "mllp: a block over %d bytes; connection closed", self.max_message_bytes
                )
                return
            text, codec = decode_message(bytes(block))
            try:
                loop = asyncio.get_running_loop()
                ack = await loop.run_in_executor(self._threads, self.handler, text)
            except Exception as err:  # a handler must answer; one that cannot ends the line
                log.error("mllp: the handler failed (%s); connection closed", type(err).__name__)
                return
            writer.writeblock(ack.encode(codec, errors="replace"))
            await writer.drain()


async def serve_until_stopped(
    listener: MllpListener, host: str, port: int, reuse_port: bool = False
) -> None:
    """Run ``listener`` until SIGINT or SIGTERM (``tellwell mllp``)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in STOP_SIGNALS:
        loop.add_signal_handler(signum, stop.set)
    bound_host, bound_port = await listener.start(host, port, reuse_port)
    log.info("mllp: listening on %s:%d (process %d)", bound_host, bound_port, os.getpid())
    try:
        await stop.wait()
    finally:
        await listener.close()
        log.info("mllp: stopped")


ServeOne = Callable[[str, int, bool], None]
"""Runs one listener process until SIGTERM: host, port, ``reuse_port``. Module-level, so
a spawned process can import it."""


def serve_in_processes(serve_one: ServeOne, host: str, port: int, processes: int) -> int:
    """Run ``processes`` listeners on one port (``tellwell mllp --processes N``); the exit
    code.

    Each is a spawned process with its own event loop, interpreter lock and database pool,
    bound with ``SO_REUSEPORT``: the kernel hands each new connection to one of them, and
    a connection stays on its process, so a sender's messages on one connection are still
    answered in order. Between processes the database keeps the order, as it does between
    connections: the ``hl7_messages`` key refuses a second copy of a message, and the
    appointment's revision compare-and-set refuses an older update.

    SIGINT or SIGTERM stops them all; one that exits on its own stops the others too (a
    supervisor such as systemd restarts the whole)."""
    context = multiprocessing.get_context("spawn")
    with _reserved_port(host, port) as bound_port:
        children = [
            context.Process(target=serve_one, args=(host, bound_port, True), name=f"mllp-{n}")
            for n in range(processes)
        ]

        def stop(signum: int | None = None, frame: object = None) -> None:
            for child in children:
                if child.is_alive():
                    child.terminate()  # SIGTERM: each stops as a single listener does

        previous = {signum: signal.signal(signum, stop) for signum in STOP_SIGNALS}
        try:
            for child in children:
                child.start()
            multiprocessing.connection.wait([child.sentinel for child in children])
            stop()
            for child in children:
                child.join()
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
    codes = [child.exitcode or 0 for child in children]
    return next((abs(code) for code in codes if code not in {0, -signal.SIGTERM}), 0)


@contextlib.contextmanager
def _reserved_port(host: str, port: int) -> Iterator[int]:
    """``port``, or a free one for 0, held (bound, not listening, so it is given no
    connection) until the listeners that share it are gone."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        holder.bind((host, port))
        yield int(holder.getsockname()[1])

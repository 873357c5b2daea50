"""The MLLP listener over real TCP, talked to with the ``hl7`` library's MLLP client.

Each test runs one event loop: the listener on a free loopback port, the clients beside
it; the handler is the real one (parse and acknowledge) in the listener's worker threads.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable

import hl7
import pytest
from hl7.mllp import open_hl7_connection

from service.intake.hl7.handler import MessageHandler
from service.intake.hl7.listener import MAX_MESSAGE_BYTES, MllpListener, decode_message
from tests.support.hl7 import (
    ANSWER_TIMEOUT_S,
    ack_code,
    acked_control_id,
    exchange,
    framed,
    sample,
    sample_names,
    siu,
)

HOST = "127.0.0.1"
NO_ANSWER_WAIT_S = 0.3
"""How long a client waits to see that nothing is answered to half a message."""

Scenario = Callable[[str, int], Awaitable[None]]


def run_with_listener(scenario: Scenario) -> None:
    async def main() -> None:
        listener = MllpListener(MessageHandler().handle)
        host, port = await listener.start(HOST, 0)
        try:
            await scenario(host, port)
        finally:
            await listener.close()

    asyncio.run(main())


def test_every_sample_is_answered_over_tcp() -> None:
    messages = [sample(n) for n in sample_names()]

    async def scenario(host: str, port: int) -> None:
        answers = await exchange(host, port, messages)
        sent = [str(hl7.parse(m).segment("MSH")(10)) for m in messages]
        assert [acked_control_id(a) for a in answers] == sent
        expected = ["AE" if "no-pid" in n else "AA" for n in sample_names()]
        assert [ack_code(a) for a in answers] == expected

    run_with_listener(scenario)


def test_every_trigger_we_take_is_accepted_and_others_rejected_over_tcp() -> None:
    triggers = ["S12", "S13", "S14", "S15", "S17", "S26", "S16", "S23"]

    async def scenario(host: str, port: int) -> None:
        messages = [siu(control_id=f"T-{t}", trigger=t) for t in triggers]
        answers = await exchange(host, port, messages)
        assert [(acked_control_id(a), ack_code(a)) for a in answers] == [
            (f"T-{t}", "AR" if t in ("S16", "S23") else "AA") for t in triggers
        ]
        assert [str(a.segment("MSH")(9)) for a in answers] == [f"ACK^{t}^ACK" for t in triggers]

    run_with_listener(scenario)


def test_several_messages_in_one_write_are_each_answered_in_order() -> None:
    async def scenario(host: str, port: int) -> None:
        reader, writer = await open_hl7_connection(host, port)
        ids = [f"BATCH-{n}" for n in range(5)]
        writer.write(b"".join(framed(siu(control_id=i)) for i in ids))
        await writer.drain()
        answers = [await asyncio.wait_for(reader.readmessage(), ANSWER_TIMEOUT_S) for _ in ids]
        assert [acked_control_id(a) for a in answers] == ids
        assert {ack_code(a) for a in answers} == {"AA"}
        writer.close()

    run_with_listener(scenario)


def test_a_message_split_across_reads_is_answered_once_it_is_whole() -> None:
    async def scenario(host: str, port: int) -> None:
        reader, writer = await open_hl7_connection(host, port)
        block = framed(siu(control_id="SPLIT-1"))
        pieces = [block[:1], block[1:20], block[20:-1], block[-1:]]
        for piece in pieces[:-1]:
            writer.write(piece)
            await writer.drain()
            # Nothing is answered to part of a message.
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(reader.readmessage(), NO_ANSWER_WAIT_S)
        writer.write(pieces[-1])
        await writer.drain()
        answer = await asyncio.wait_for(reader.readmessage(), ANSWER_TIMEOUT_S)
        assert (ack_code(answer), acked_control_id(answer)) == ("AA", "SPLIT-1")
        writer.close()

    run_with_listener(scenario)


def test_a_client_gone_mid_message_leaves_the_listener_serving() -> None:
    async def scenario(host: str, port: int) -> None:
        _, quitter = await open_hl7_connection(host, port)
        quitter.write(framed(siu(control_id="HALF"))[:60])
        await quitter.drain()
        quitter.transport.abort()  # a reset, not a polite close
        answers = await exchange(host, port, [siu(control_id="NEXT")])
        assert (ack_code(answers[0]), acked_control_id(answers[0])) == ("AA", "NEXT")

    run_with_listener(scenario)


async def closed_by_listener(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
    """True once the listener has ended the connection (EOF, or a reset while sending)."""
    try:
        await writer.drain()
        await asyncio.wait_for(reader.read(), ANSWER_TIMEOUT_S)  # returns at EOF
        return reader.at_eof()
    except ConnectionError:
        return True


def test_a_megabyte_of_random_bytes_then_the_next_client_is_answered() -> None:
    async def scenario(host: str, port: int) -> None:
        reader, writer = await open_hl7_connection(host, port)
        writer.write(os.urandom(1024 * 1024))
        if writer.can_write_eof():
            writer.write_eof()
        assert await closed_by_listener(reader, writer)
        answers = await exchange(host, port, [siu(control_id="AFTER-GARBAGE")])
        assert (ack_code(answers[0]), acked_control_id(answers[0])) == ("AA", "AFTER-GARBAGE")

    run_with_listener(scenario)


def test_a_block_beyond_the_size_limit_ends_that_connection_only() -> None:
    async def scenario(host: str, port: int) -> None:
        bystander_reader, bystander = await open_hl7_connection(host, port)
        reader, writer = await open_hl7_connection(host, port)
        writer.write(b"\x0b" + b"A" * (MAX_MESSAGE_BYTES + 1))  # no end of block, ever
        assert await closed_by_listener(reader, writer)
        # A connection opened before the flood is still served, and so is a new one.
        bystander.write(framed(siu(control_id="BYSTANDER")))
        await bystander.drain()
        answer = await asyncio.wait_for(bystander_reader.readmessage(), ANSWER_TIMEOUT_S)
        assert acked_control_id(answer) == "BYSTANDER"
        bystander.close()
        answers = await exchange(host, port, [siu(control_id="AFTER-FLOOD")])
        assert ack_code(answers[0]) == "AA"

    run_with_listener(scenario)


def test_framed_garbage_gets_an_error_ack_and_stray_bytes_are_skipped() -> None:
    async def scenario(host: str, port: int) -> None:
        reader, writer = await open_hl7_connection(host, port)
        writer.write(framed("this is not HL7") + b"stray bytes" + framed(siu(control_id="OK-1")))
        writer.write(framed(siu(control_id="OK-2")))
        await writer.drain()
        answers = [await asyncio.wait_for(reader.readmessage(), ANSWER_TIMEOUT_S) for _ in "123"]
        assert [(ack_code(a), acked_control_id(a)) for a in answers] == [
            ("AE", ""),
            ("AA", "OK-1"),
            ("AA", "OK-2"),
        ]
        writer.close()

    run_with_listener(scenario)


def test_latin_1_messages_are_read_and_answered_in_latin_1() -> None:
    message = siu(
        control_id="LATIN-1",
        charset="8859/1",
        pid="PID|1||M-1||Müller^Jürgen^^^^^L||||||||^PRN^CP^^49^30^1234567||ger",
    )

    async def scenario(host: str, port: int) -> None:
        reader, writer = await open_hl7_connection(host, port, encoding="iso-8859-1")
        writer.write(framed(message, "iso-8859-1"))
        await writer.drain()
        answer = await asyncio.wait_for(reader.readmessage(), ANSWER_TIMEOUT_S)
        assert (ack_code(answer), acked_control_id(answer)) == ("AA", "LATIN-1")
        assert str(answer.segment("MSH")(18)) == "8859/1"
        writer.close()

    run_with_listener(scenario)


def test_bytes_that_are_not_utf_8_and_name_no_charset_are_still_answered() -> None:
    raw = siu(control_id="NO-CHARSET", pid="PID|1||M-1||Mañez^Íñigo^^^^^L").encode("cp1252")

    async def scenario(host: str, port: int) -> None:
        reader, writer = await open_hl7_connection(host, port, encoding="iso-8859-1")
        writer.write(b"\x0b" + raw + b"\x1c\r")
        await writer.drain()
        answer = await asyncio.wait_for(reader.readmessage(), ANSWER_TIMEOUT_S)
        assert (ack_code(answer), acked_control_id(answer)) == ("AA", "NO-CHARSET")
        writer.close()

    run_with_listener(scenario)


def test_many_clients_at_once() -> None:
    async def scenario(host: str, port: int) -> None:
        batches = [[siu(control_id=f"C{c}-M{m}") for m in range(5)] for c in range(8)]
        results = await asyncio.gather(*(exchange(host, port, b) for b in batches))
        for batch, answers in zip(batches, results, strict=True):
            sent = [str(hl7.parse(m).segment("MSH")(10)) for m in batch]
            assert [acked_control_id(a) for a in answers] == sent

    run_with_listener(scenario)


@pytest.mark.parametrize(
    ("raw", "text", "codec"),
    [
        (
            "MSH|^~\\&|A|B|||||SIU^S12|1|P|2.5|||||||UNICODE UTF-8\rPID|Jos\u00e9".encode(),
            "José",
            "utf-8",
        ),
        ("MSH|^~\\&|A|B|||||SIU^S12|1|P|2.5\rPID|Jos\u00e9".encode(), "José", "utf-8"),
        (
            "MSH|^~\\&|A|B|||||SIU^S12|1|P|2.5|||||||8859/1\rPID|Jos\u00e9".encode("latin-1"),
            "José",
            "iso-8859-1",
        ),
        (
            "MSH|^~\\&|A|B|||||SIU^S12|1|P|2.5\rPID|Jos\u00e9".encode("latin-1"),
            "José",
            "iso-8859-1",
        ),
        (b"\xff\xfe\x00garbage", "garbage", "iso-8859-1"),
    ],
)
def test_decoding_follows_msh_18_then_utf_8_then_latin_1(raw: bytes, text: str, codec: str) -> None:
    decoded, used = decode_message(raw)
    assert text in decoded and used == codec

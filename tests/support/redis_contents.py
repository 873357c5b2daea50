"""Everything a Redis database holds, opened up, so a test can search it for PHI.

RQ compresses job payloads and tracebacks with zlib (results additionally in base64), so a
plain search of the raw bytes would find nothing and prove nothing.
"""

from __future__ import annotations

import base64
import binascii
import zlib
from collections.abc import Iterator

from redis import Redis


def opened(value: bytes) -> bytes:
    """``value`` decompressed if it is zlib (or base64 of zlib), else as stored."""
    try:
        return zlib.decompress(value)
    except zlib.error:
        pass
    try:
        return zlib.decompress(base64.b64decode(value, validate=True))
    except (binascii.Error, zlib.error):
        return value


def _values(connection: Redis, key: bytes) -> Iterator[bytes]:
    kind = connection.type(key)
    if kind == b"string":
        yield connection.get(key) or b""
    elif kind == b"hash":
        for field, value in connection.hgetall(key).items():
            yield from (field, value)
    elif kind == b"list":
        yield from connection.lrange(key, 0, -1)
    elif kind == b"set":
        yield from connection.smembers(key)
    elif kind == b"zset":
        yield from connection.zrange(key, 0, -1)
    elif kind == b"stream":
        for _entry_id, fields in connection.xrange(key):
            for field, value in fields.items():
                yield from (field, value)


def redis_contents(connection: Redis) -> list[bytes]:
    """Every key and every value (hash fields, list items, stream entries...), opened."""
    found = []
    for key in connection.scan_iter(count=1000):
        found.append(key)
        found.extend(opened(value) for value in _values(connection, key))
    return found

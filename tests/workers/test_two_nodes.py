"""Two machines, one PostgreSQL and one Redis: audio rendered on one is served by the other.

Node A runs the API (a real ``tellwell serve`` process), node B a real ``tellwell worker``;
each has its own data directory (no shared disk). With a shared audio store (database,
s3) node A serves node B's audio, whole and by range; with ``local`` it cannot (410),
which is why docs/architecture.md "Scaling out" asks for a shared disk with that store.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from devtools.ports import free_port
from service.audio_store import cache_path
from service.config import Settings
from service.links import Links
from tests.support.api import Keys, make_keys, reminder_body
from tests.support.s3 import S3_ENV, moto_s3
from tests.support.serving import tellwell_serve
from tests.support.waiting import wait_for
from tests.support.workers import run_burst_worker, settings_env

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


@pytest.fixture(params=["database", "s3", "local"])
def store_settings(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, Any]]:
    if request.param != "s3":
        yield {"audio_store": request.param}
        return
    for name, value in S3_ENV.items():
        monkeypatch.setenv(name, value)  # inherited by both nodes' processes
    with moto_s3() as server:
        yield server.settings()


def audio_files(data_dir: Path) -> list[Path]:
    return [path for path in (data_dir / "audio").rglob("*") if path.is_file()]


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_a_reminder_rendered_on_node_b_is_served_by_node_a(
    make_settings: Callable[..., Settings],
    database_url: str,
    redis_url: str,
    store_settings: dict[str, Any],
    tmp_path: Path,
) -> None:
    keys: Keys = make_keys(database_url)
    port = free_port()
    shared = {"redis_url": redis_url, "public_base_url": f"http://127.0.0.1:{port}"}
    node_a = make_settings(data_dir=tmp_path / "node-a", **shared, **store_settings)
    node_b = make_settings(
        data_dir=tmp_path / "node-b", queue_name=node_a.queue_name, **shared, **store_settings
    )

    with tellwell_serve(settings_env(node_a), port, tmp_path / "node-a.log") as api:
        created = httpx.post(
            f"{api.url}/v1/reminders",
            json=reminder_body(),
            headers=keys.header(keys.scheduler),
        )
        assert created.status_code == 202, created.text
        reminder_id = created.json()["id"]

        run_burst_worker(node_b, env=settings_env(node_b))  # renders and delivers

        def shown() -> dict[str, Any]:
            answer = httpx.get(
                f"{api.url}/v1/reminders/{reminder_id}", headers=keys.header(keys.staff)
            )
            return dict(answer.json())

        reminder = wait_for(lambda: (r := shown())["status"] == "delivered" and r)
        audio_url = reminder["message"]["audio_url"]
        whole = httpx.get(audio_url)
        part = httpx.get(audio_url, headers={"Range": "bytes=1000-1999"})

    links = Links(node_a.public_base_url, node_a.signing_key(), node_a.audio_link_ttl_s)
    key, fmt = links.open_audio(audio_url.rsplit("/", 1)[1])
    rendered = cache_path(node_b.audio_dir, key, fmt).read_bytes()
    assert audio_files(node_a.data_dir) == []  # node A never rendered nor copied a file
    if node_a.audio_store == "local":
        assert whole.status_code == 410  # no shared disk: node A cannot see node B's file
        return
    assert whole.status_code == 200 and whole.content == rendered
    assert whole.headers["content-type"] == "audio/wav"
    assert part.status_code == 206 and part.content == rendered[1000:2000]
    assert part.headers["content-range"] == f"bytes 1000-1999/{len(rendered)}"

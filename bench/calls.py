"""Phone-call figures against the Twilio simulator (issue 4).

1. Calls dispatched per second by four concurrent workers through ``TwilioChannel.send``
   with the pace unlimited and with 1 call per second shared in Redis; the paced rate must
   hold within 5 %.
2. Duplicate calls when the worker (and all it started) is SIGKILLed after Twilio
   accepted the call but before it was saved, over 50 trials: runs the end-to-end test with
   TELLWELL_KILL_TRIALS=50, which counts the calls the simulator received for each reminder
   (one reminder per trial, each to its own number) and prints how many were more than one.

Run: ``.venv/bin/python bench/calls.py`` (needs Redis and PostgreSQL like the tests).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import redis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from devtools.twilio_sim import TwilioSimulator
from service.call_policy import NeverCallList
from service.config import Settings
from service.db import Database
from service.links import Links
from workers.channels import Delivery
from workers.channels.twilio import TwilioChannel
from workers.pacing import Pacer

REDIS_URL = os.environ.get("TELLWELL_TEST_REDIS_URL", "redis://127.0.0.1:6379/8")
WORKERS = 4
UNLIMITED_CALLS = 200
PACED_CALLS = 21
KILL_TRIALS = 50
PACE_TOLERANCE = 0.05


def dispatch_rate(sim: TwilioSimulator, data: Path, cps: float, calls: int) -> float:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=data,
        twilio_account_sid=sim.account_sid,
        twilio_auth_token=sim.auth_token,
        twilio_from_number="+13125550199",
        twilio_api_base=sim.url,
        public_base_url="http://127.0.0.1:9",
    )
    db = Database.from_settings(settings)
    db.migrate()
    key = f"bench:pace:{time.monotonic_ns()}"
    links = Links(settings.public_base_url, settings.signing_key(), settings.audio_link_ttl_s)
    never_call = NeverCallList.from_settings(settings)
    channels = [
        TwilioChannel(
            settings, db, Pacer(cps, redis.Redis.from_url(REDIS_URL), key), links, never_call
        )
        for _ in range(WORKERS)
    ]
    sim.create_requests.clear()
    counter = iter(range(calls))
    lock = threading.Lock()

    def work(channel: TwilioChannel) -> None:
        while True:
            with lock:
                n = next(counter, None)
            if n is None:
                return
            channel.send(
                Delivery(
                    attempt_id=f"a{n}",
                    reminder_id=f"r{n}",
                    channel="phone",
                    language="en",
                    transcript="",
                    audio_path=Path("x"),
                    audio_media_type="audio/wav",
                    duration_s=1.0,
                    audio_key="x",
                    audio_format="phone",
                    to=f"+1312555{n:04d}",
                )
            )

    threads = [threading.Thread(target=work, args=(c,)) for c in channels]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stamps = sorted(sim.create_requests)
    return (len(stamps) - 1) / (stamps[-1] - stamps[0])


def kill_trials() -> str:
    started = time.monotonic()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-s",
            "-p",
            "no:cacheprovider",
            "tests/workers/test_twilio_calls.py",
            "-k",
            "killed and postgres",
        ],
        env={**os.environ, "TELLWELL_KILL_TRIALS": str(KILL_TRIALS)},
        capture_output=True,
        text=True,
        check=False,
    )
    found = re.search(r"kill-mid-dial trials=\d+ calls=\d+ duplicates=\d+.*", done.stdout)
    took = f" in {time.monotonic() - started:.0f} s"
    return found.group(0) + took if found else f"FAILED{took}:\n{done.stdout[-3000:]}"


def main() -> None:
    sim = TwilioSimulator("AC" + "2" * 32, "bench-token", place_calls=False).start()
    with tempfile.TemporaryDirectory() as tmp:
        free = dispatch_rate(sim, Path(tmp) / "a", 0, UNLIMITED_CALLS)
        paced = dispatch_rate(sim, Path(tmp) / "b", 1, PACED_CALLS)
    sim.stop()
    off = abs(paced - 1) / 1
    print(f"calls/s, {WORKERS} workers, CPS unlimited: {free:.1f}")
    print(
        f"calls/s, {WORKERS} workers, CPS 1:        {paced:.3f} "
        f"({off:.1%} off 1.0; {'within' if off <= PACE_TOLERANCE else 'OUTSIDE'} 5%)"
    )
    print(f"ratio unlimited / paced: {free / paced:.1f}x")
    if "--no-kill" not in sys.argv:
        print(kill_trials())


if __name__ == "__main__":
    main()

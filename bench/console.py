"""Console benchmark: from pressing Preview to playable audio, uncached and cached.

A real ``tellwell serve`` (embedded defaults: SQLite, in-process queue, espeak-ng) on
loopback, driven by Debian's Chromium through Playwright, signed in with a staff key. Each
round previews an English appointment reminder twice: first with words never spoken
before (the instructions carry the round number, so the speech is synthesised and
encoded), then the same words again (the audio comes from the content-addressed cache).
The clock runs from the click on Preview until the page's ``<audio>`` element can play
(``readyState >= HAVE_FUTURE_DATA``). The cached preview is the baseline; the ratio says
what speaking costs on top of everything else.

    .venv/bin/python bench/console.py [--rounds 8]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from devtools.browser import launch  # noqa: E402
from devtools.ports import free_port  # noqa: E402
from service.db import Database  # noqa: E402
from service.models import Role  # noqa: E402
from service.security import issue_key  # noqa: E402

SERVER_START_TIMEOUT_S = 30
PAGE_TIMEOUT_MS = 60_000
PLAYABLE = (
    "() => { const a = document.querySelector('#preview-audio'); return a && a.readyState >= 3; }"
)


def start_server(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "TELLWELL_DATA_DIR": str(data_dir), "TELLWELL_PUBLIC_BASE_URL": url}
    process = subprocess.Popen(
        [str(ROOT / ".venv/bin/tellwell"), "serve", "--port", str(port)],
        env=env,
        cwd=data_dir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("tellwell serve did not start")
        time.sleep(0.1)


def time_preview(page: Page, instructions: str) -> float:
    """Seconds from the click on Preview to an audio element that can play."""
    page.get_by_label("Instructions (optional)").fill(instructions)
    started = time.perf_counter()
    page.get_by_role("button", name="Preview", exact=True).click()
    page.wait_for_function(PLAYABLE, polling=5)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=8)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="tellwell-bench-console-") as tmp:
        data_dir = Path(tmp)
        db = Database(f"sqlite:///{data_dir / 'tellwell.sqlite3'}")
        db.migrate()
        with db.session() as session:
            staff_key = issue_key(session, Role.STAFF, "bench nurse").raw
        db.dispose()
        port = free_port()
        server = start_server(data_dir, port)
        try:
            with sync_playwright() as playwright:
                browser = launch(playwright)
                page = browser.new_page()
                page.set_default_timeout(PAGE_TIMEOUT_MS)
                page.goto(f"http://127.0.0.1:{port}/console/sign-in")
                page.get_by_label("Your API key").fill(staff_key)
                page.get_by_role("button", name="Sign in").click()
                page.get_by_label("Language").select_option("en")
                page.get_by_role("button", name="Fill with sample data").click()
                time_preview(page, "Warm-up: bring your medicine list.")  # imports, first spawn
                uncached, cached = [], []
                for n in range(args.rounds):
                    words = f"Bring your medicine list and card number {n + 1}."
                    uncached.append(time_preview(page, words))
                    cached.append(time_preview(page, words))
                browser.close()
        finally:
            server.terminate()
            server.wait(timeout=15)

    def describe(samples: list[float]) -> str:
        ms = sorted(s * 1000 for s in samples)
        return f"median {statistics.median(ms):7.1f} ms  (min {ms[0]:.1f}, max {ms[-1]:.1f})"

    print(f"Preview -> playable audio, English appointment reminder, {args.rounds} rounds")
    print(f"  uncached (speech synthesised): {describe(uncached)}")
    print(f"  cached   (same words again):   {describe(cached)}")
    ratio = statistics.median(uncached) / statistics.median(cached)
    print(f"  ratio uncached / cached: {ratio:.2f}x")


if __name__ == "__main__":
    main()

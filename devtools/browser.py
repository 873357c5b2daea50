"""Real Debian Chromium for page tests and benchmarks, and the axe-core accessibility check.

Chromium is the system's (``apt-get install chromium``), driven by Playwright; no browser
is ever downloaded. axe-core comes from npm (``make setup`` runs ``npm ci``) and is
injected into the page under test.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Page, Playwright

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_PATH = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
AXE_SCRIPT = ROOT / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS_DIR = ROOT / "test-artifacts"
BLOCKING_IMPACTS = frozenset({"serious", "critical"})
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]


def launch(playwright: Playwright) -> Browser:
    return playwright.chromium.launch(executable_path=CHROMIUM_PATH, args=CHROMIUM_ARGS)


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's WCAG 2.2 A/AA and best-practice violations on the page as it is now."""
    if not AXE_SCRIPT.exists():
        raise RuntimeError(f"{AXE_SCRIPT} is missing: run `make setup` (npm ci)")
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(content=AXE_SCRIPT.read_text())
    result = page.evaluate(
        "async (tags) => (await axe.run(document, {runOnly: {type: 'tag', values: tags}}))"
        ".violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.map(n => n.target.join(' '))}))",
        AXE_TAGS,
    )
    return list(result)


def blocking(violations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [v for v in violations if v["impact"] in BLOCKING_IMPACTS]

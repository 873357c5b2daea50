"""Render step benchmark (issue 13): the CPU one reminder's render costs, in one process.

The reminders of ``bench/scale.py`` (same mix of kinds and channels, the schedule's
clinics, providers and slots repeating, every name new) are rendered in order through
the worker's ``Renderer`` and the voices ``tellwell serve`` enables, from a cold audio
cache, with nothing else around (no queue, database or API). Printed per window of
reminders (the first ones fill the cache, the last ones show the steady state): the
message's CPU milliseconds per reminder, and for phone reminders what a call placed
through Twilio adds: its voicemail variant and keypad replies (``Renderer.call_extras``),
which the outbox channel never renders; and what the app variant of a phone reminder
costs (its escalation's app or text step renders it, ``Pipeline._render_app_variant``):
the figure that decides whether it is worth rendering for every phone reminder ahead, or
only when such a step runs. CPU includes the engines' child processes.

    .venv/bin/python bench/render_step.py [--reminders 600] [--window 100] [--language en]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.scale import names, reminder_body  # noqa: E402
from bench.support import own_cpu_s  # noqa: E402
from voices import configured_speaker  # noqa: E402
from workers.rendering import FORMAT_FOR_CHANNEL, VARIANT_FOR_CHANNEL, Renderer  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reminders", type=int, default=600)
    parser.add_argument("--window", type=int, default=100)
    parser.add_argument("--language", default="en")
    args = parser.parse_args()
    rng, new_names = random.Random(f"scale-{args.language}"), names()
    bodies = [reminder_body(n, next(new_names), args.language, rng) for n in range(args.reminders)]
    with tempfile.TemporaryDirectory() as cache:
        renderer = Renderer(configured_speaker(Path(cache)))
        renderer.render(
            "appointment_reminder", args.language, "app", bodies[0], FORMAT_FOR_CHANNEL["app"]
        )
        print(
            f"{args.language} ({renderer.speaker.voice_for(args.language).engine}), "
            f"{args.reminders} reminders, cold cache; CPU ms per reminder"
        )
        print(
            f"{'reminders':>11} {'message':>8} {'phone':>6} {'+ voicemail':>11} {'vs message':>10}"
            f" {'app variant':>11} {'vs message':>10}"
        )
        for start in range(0, len(bodies), args.window):
            window = bodies[start : start + args.window]
            message_s = extras_s = app_s = 0.0
            phones = 0
            for body in window:
                channel = body["channel"]
                began = own_cpu_s()
                renderer.render(
                    body["kind"],
                    args.language,
                    VARIANT_FOR_CHANNEL[channel],
                    body,
                    FORMAT_FOR_CHANNEL[channel],
                )
                message_s += own_cpu_s() - began
                if channel == "phone":
                    phones += 1
                    began = own_cpu_s()
                    renderer.call_extras(body["kind"], body, language=args.language)
                    extras_s += own_cpu_s() - began
                    began = own_cpu_s()
                    renderer.render(
                        body["kind"], args.language, "app", body, FORMAT_FOR_CHANNEL["app"]
                    )
                    app_s += own_cpu_s() - began
            per_message = message_s / len(window) * 1000
            per_call = extras_s / max(phones, 1) * 1000
            per_app = app_s / max(phones, 1) * 1000
            print(
                f"{start + 1:5}-{start + len(window):<5} {per_message:8.0f} {phones:6} "
                f"{per_call:11.0f} {per_call / per_message:10.2f}"
                f" {per_app:11.0f} {per_app / per_message:10.2f}"
            )


if __name__ == "__main__":
    main()

"""The circuit breaker's states on a clock the test moves (no waiting out cool-downs)."""

from __future__ import annotations

import pytest

from tests.support.clock import OffsetClock
from voices.circuit_breaker import CircuitBreaker


def test_only_failures_in_a_row_open_it():
    breaker = CircuitBreaker(3, 10.0, OffsetClock().monotonic)
    breaker.record_failure()
    breaker.record_failure()
    breaker.record_success()  # the count starts again
    breaker.record_failure()
    breaker.record_failure()
    assert breaker.state == "closed" and breaker.allow()

    breaker.record_failure()
    assert breaker.state == "open" and not breaker.allow()


def test_after_the_cool_down_it_lets_one_trial_through_at_a_time():
    clock = OffsetClock()
    breaker = CircuitBreaker(1, 10.0, clock.monotonic)
    breaker.record_failure()
    clock.skip(9.9)
    assert not breaker.allow()

    clock.skip(0.1)
    assert breaker.allow()  # the trial
    assert not breaker.allow()  # a second caller waits for the trial's outcome
    breaker.record_success()
    assert breaker.state == "closed" and breaker.allow() and breaker.allow()


def test_a_failed_trial_opens_it_for_another_cool_down():
    clock = OffsetClock()
    breaker = CircuitBreaker(2, 10.0, clock.monotonic)
    breaker.record_failure()
    breaker.record_failure()
    clock.skip(10)
    assert breaker.allow()
    breaker.record_failure()  # one failure is enough when it is the trial's
    assert breaker.state == "open" and not breaker.allow()
    clock.skip(10)
    assert breaker.state == "half-open" and breaker.allow()


@pytest.mark.parametrize(("threshold", "cooldown_s"), [(0, 10.0), (1, 0.0)])
def test_a_breaker_that_could_never_work_is_refused(threshold, cooldown_s):
    with pytest.raises(ValueError, match="threshold"):
        CircuitBreaker(threshold, cooldown_s)

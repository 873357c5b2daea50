"""Development tools shared by the tests and the benchmarks; not part of the installed service.

Stand-ins for the outside world (the Twilio simulator), the real browser the page checks
drive, and small helpers both need. Benchmarks import these, never the tests.
"""

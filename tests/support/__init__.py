"""Helpers the test modules share: request bodies, key sets, waiting, worker processes.

Fixtures live in the ``conftest.py`` files and may use these; test modules import from
here (and from ``devtools``), never from another test module or a conftest.
"""

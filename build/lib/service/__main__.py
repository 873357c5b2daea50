"""``python -m service`` is the ``tellwell`` command (handy where the script is not on PATH)."""

from service.cli import main

main()

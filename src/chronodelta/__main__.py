"""``python -m chronodelta``: the same as the ``chronodelta`` command."""

from chronodelta.cli import main

main()

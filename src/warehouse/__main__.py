"""``python -m warehouse``: the same as the ``warehouse`` console script."""

from warehouse.cli import main

main()

"""``python -m cvxrelu``: the same command line as the ``cvxrelu`` script."""

from .cli import main

main()

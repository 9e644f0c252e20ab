"""`python -m medledger.cli` runs the command."""

from medledger.cli import main

main()

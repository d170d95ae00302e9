"""`python -m vqcodec` runs the CLI."""

from vqcodec.cli import main

main()

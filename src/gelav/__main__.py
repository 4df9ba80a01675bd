"""``python -m gelav``: the same command line as ``gelav``."""

from gelav.cli import main

if __name__ == "__main__":
    main(prog_name="gelav")

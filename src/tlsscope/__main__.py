"""`python -m tlsscope`."""

from tlsscope.cli.main import run

if __name__ == "__main__":
    run()

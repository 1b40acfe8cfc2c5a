"""The terminal: a thin Typer shell over the library; named errors become one-line messages."""

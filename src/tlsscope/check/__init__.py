"""Live checks of a domain (`tlsscope check`): each step probes (tlsscope.probe), validates
what it found (tlsscope.parse.records) and says ok, warning or error in plain language."""

from tlsscope.cli.main import run

run()

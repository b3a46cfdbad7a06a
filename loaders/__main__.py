from loaders.cli import run

run()

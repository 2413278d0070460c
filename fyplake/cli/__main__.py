from fyplake.cli import run

run()

"""``python -m restora``: the command line."""
from restora.cli.main import main

main()

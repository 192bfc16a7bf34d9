"""The ``restora`` command line: :mod:`restora.cli.common` holds the Typer app, each other module
adds commands to it, :mod:`restora.cli.main` puts them together."""

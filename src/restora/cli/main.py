"""Entry point of the ``restora`` console script.

Importing a command module registers its commands on :data:`restora.cli.common.app`; add new
modules to the import below. A :class:`RestoraError` ends the program with one line on stderr,
``restora: error: <message>``, and exit code 2, never a traceback; usage errors are Typer's
(exit code 2), an interrupt exits with 130.
"""
from __future__ import annotations

import sys

from restora.cli import restore, degrade, augment, evaluate, classify, style, train, generate, export, serve  # noqa: F401, I001  (register commands, in --help order)
from restora.cli.common import app, error_line
from restora.errors import RestoraError

__all__ = ["app", "main"]


def main(argv: list[str] | None = None) -> None:
    """Run the CLI on ``argv`` (default: sys.argv[1:]); always exits."""
    try:
        app(args=argv, prog_name="restora")
    except RestoraError as exc:
        print(error_line(str(exc)), file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print(error_line("interrupted"), file=sys.stderr)
        sys.exit(130)


if __name__ == "__main__":
    main()

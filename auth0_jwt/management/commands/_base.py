"""What the token commands share: a one-line usage error instead of argparse's usage block."""

from typing import Any, NoReturn

from django.core.management.base import BaseCommand, CommandError, CommandParser


class TokenCommand(BaseCommand):
    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)

        def error(message: str) -> NoReturn:
            if parser.called_from_command_line:
                parser.exit(2, f"{parser.prog}: error: {message} (see --help)\n")
            raise CommandError(f"Error: {message}")

        parser.error = error  # type: ignore[method-assign]  # this parser's own error()
        return parser

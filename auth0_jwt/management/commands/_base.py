"""What the token commands share: a one-line usage error instead of argparse's usage block."""

from django.core.management.base import BaseCommand, CommandError


class TokenCommand(BaseCommand):
    def create_parser(self, prog_name, subcommand, **kwargs):
        parser = super().create_parser(prog_name, subcommand, **kwargs)

        def error(message):
            if parser.called_from_command_line:
                parser.exit(2, f"{parser.prog}: error: {message} (see --help)\n")
            raise CommandError(f"Error: {message}")

        parser.error = error
        return parser

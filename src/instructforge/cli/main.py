"""The ``instructforge`` command: a thin shell over the stages.

Subcommands are loaded lazily from their own modules (``name -> module:attr``), so ``--help``
is instant and each area owns its commands. Errors become one line and an exit code:
2 for bad input or usage, 3 for a run stopped at its token or cost cap, 1 for anything else.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from .._version import __version__
from ..api.registry import COMMANDS as REGISTRY
from ..core import ui
from ..core.errors import InstructforgeError
from .common import COMMANDS

HELP = {c.name: c.help for c in REGISTRY if c.cli is not None}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module, attr = COMMANDS[name]
        cmd: click.Command = getattr(importlib.import_module(module), attr)
        return cmd

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(n, HELP.get(n, "")) for n in COMMANDS])


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="instructforge")
@click.option("--quiet", "-q", is_flag=True, help="No progress bars or tables (results still print).")
@click.option(
    "--log-level",
    default="WARNING",
    show_default=True,
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
)
@click.option(
    "--config",
    "config_file",
    default=None,
    metavar="FILE",
    help="YAML/JSON settings in command sections (generate: {...}); a command's own --config, --set and flags win.",
)
@click.pass_context
def cli(ctx: click.Context, quiet: bool, log_level: str, config_file: str | None) -> None:
    """instructforge: build instruction-tuning data and better small models."""
    ui.set_quiet(quiet)
    ui.setup_logging(log_level)
    if config_file:
        from .settings import check_global_config

        check_global_config(config_file)


def main(argv: list[str] | None = None) -> Any:
    try:
        return cli.main(args=argv, standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as e:
        e.show()
        sys.exit(2 if isinstance(e, click.UsageError | click.BadParameter) else e.exit_code)
    except InstructforgeError as e:
        click.echo(f"{e.prefix}: {e}", err=True)
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted; rerun the same command to resume", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()

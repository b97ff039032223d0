"""The ``instructforge`` command: a thin shell over the stages.

Subcommands are loaded lazily from their own modules (``name -> module:attr``), so ``--help``
is instant and each area owns its commands. Errors become one line and an exit code:
2 for bad input or usage, 1 for anything else.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from . import __version__, ui
from .errors import InstructforgeError

COMMANDS: dict[str, tuple[str, str]] = {
    "ask": ("instructforge.cli_core", "ask"),
    "generate": ("instructforge.selfinstruct.cli", "generate"),
    "export": ("instructforge.selfinstruct.cli", "export"),
    "dedup": ("instructforge.novelty_cli", "dedup"),
    "induce": ("instructforge.induction.cli", "induce"),
    "induction": ("instructforge.induction.cli", "induction"),
    "refine": ("instructforge.refine.cli", "refine"),
    "finetune": ("instructforge.train.cli", "finetune"),
    "evaluate": ("instructforge.evaluate.cli", "evaluate"),
    "compare": ("instructforge.evaluate.cli", "compare"),
    "report": ("instructforge.report.cli", "report"),
    "score": ("instructforge.score.cli", "score"),
}

HELP = {
    "ask": "Print one completion (check that a backend works).",
    "generate": "Self-Instruct / REFINE-AF data generation into a resumable run dir.",
    "export": "Export a run as alpaca, messages, prompt-completion or an HF dataset.",
    "dedup": "The ROUGE-L novelty filter alone, over a JSONL file.",
    "induce": "Induce the instruction behind input-output demonstrations.",
    "induction": "Instruction Induction benchmark: evaluate and score.",
    "refine": "REFINE-AF RL stage: train the instance writer on automated feedback.",
    "finetune": "Supervised fine-tuning (TRL SFT + LoRA) on exported data.",
    "evaluate": "Evaluate a model: SuperNI, user-oriented instructions.",
    "compare": "Per-task comparison of two evaluation dirs (win/tie/loss).",
    "report": "Self-contained HTML report of a run or an evaluation dir.",
    "score": "Score, audit and check every record of a run or data file (automated feedback).",
}


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


def load_option_defaults(path: str) -> dict[str, Any]:
    """A YAML file of option defaults per command, e.g. ``generate: {num_instructions: 200}``
    or ``induction: {evaluate: {tasks: "sum,diff"}}``. Flags on the command line still win."""
    from .config import read_mapping
    from .errors import InputError

    data = read_mapping(path)
    if not all(isinstance(v, dict) for v in data.values()):
        raise InputError(f"{path}: config must map command names to option mappings")
    unknown = sorted(set(data) - set(COMMANDS))
    if unknown:
        raise InputError(f"{path}: unknown command(s) in config: {', '.join(unknown)}")

    def norm(d: dict[str, Any]) -> dict[str, Any]:
        return {str(k).replace("-", "_"): norm(v) if isinstance(v, dict) else v for k, v in d.items()}

    return norm(data)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="instructforge")
@click.option("--quiet", "-q", is_flag=True, help="No progress bars or tables (results still print).")
@click.option("--log-level", default="WARNING", show_default=True,
              type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False))
@click.option("--config", "config_file", default=None, metavar="FILE",
              help="YAML of option defaults per command (command-line flags win).")
@click.pass_context
def cli(ctx: click.Context, quiet: bool, log_level: str, config_file: str | None) -> None:
    """instructforge: build instruction-tuning data and better small models."""
    ui.set_quiet(quiet)
    ui.setup_logging(log_level)
    if config_file:
        ctx.default_map = load_option_defaults(config_file)


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
        click.echo(f"error: {e}", err=True)
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted; rerun the same command to resume", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()

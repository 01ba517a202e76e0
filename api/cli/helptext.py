"""Help as click writes it: ``SOURCE...`` and ``--limit N``, not typer's ``<list[str]>``.

typer (0.16 and later) adds its own type labels to plain help (``<bool>``, ``<int range>``)
and wraps required arguments in braces in the usage line (``{sources}...``); those are
Python's names for our types, not words a user types. Options name their value with
``metavar``; arguments are written here, upper case, as click and most tools do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from typer.core import TyperArgument, TyperCommand

if TYPE_CHECKING:
    # typer 0.29 ships its own copy of click, and its commands take that copy's types.
    from typer._click import Context, HelpFormatter, Parameter

__all__ = ["PlainCommand"]


def _argument_name(param: Parameter) -> str:
    name = param.metavar or (param.name or "").upper()
    return f"{name}..." if param.nargs != 1 else name


class PlainCommand(TyperCommand):
    """A typer command whose help shows argument names as a user writes them."""

    def collect_usage_pieces(self, ctx: Context) -> list[str]:
        """``[OPTIONS] SOURCE...``: optional arguments in brackets, no braces."""
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if isinstance(param, TyperArgument):
                name = _argument_name(param)
                pieces.append(name if param.required else f"[{name}]")
        return pieces

    def format_options(self, ctx: Context, formatter: HelpFormatter) -> None:
        """The arguments (name, help) and the options (typer's lines, with our metavars)."""
        arguments: list[tuple[str, str]] = []
        options: list[tuple[str, str]] = []
        for param in self.get_params(ctx):
            if isinstance(param, TyperArgument):
                if not param.hidden:
                    arguments.append((_argument_name(param), param.help or ""))
                continue
            record = param.get_help_record(ctx)
            if record is not None:
                options.append(record)
        if arguments:
            with formatter.section("Arguments"):
                formatter.write_dl(arguments)
        if options:
            with formatter.section("Options"):
                formatter.write_dl(options)

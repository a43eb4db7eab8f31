"""Command-line options generated from dataclass fields, so each option is declared once.

:func:`config_options` turns the fields of :class:`~agent.strategies.config.StrategyConfig` (or any
dataclass whose field metadata is :func:`~agent.strategies.config.option`) into click options for
one command; :func:`pop_config` takes their values back out of the command's keyword arguments.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable
from dataclasses import MISSING, fields
from typing import Any

import click


def _base_type(annotation: Any) -> type:
    """``int | None`` -> ``int``."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        return next(a for a in typing.get_args(annotation) if a is not type(None))
    return annotation


def _click_type(base: type, meta: dict) -> Any:
    if meta.get("choices"):
        return click.Choice(meta["choices"])
    low, high = meta.get("range") or (None, None)
    if base is int:
        return click.IntRange(low, high) if meta.get("range") else int
    if base is float:
        return click.FloatRange(low, high) if meta.get("range") else float
    return base


def config_options(cls: type, command: str) -> Callable[[Callable], Callable]:
    """A decorator adding one click option per field of ``cls`` that ``command`` takes.

    A field becomes an option when its metadata has ``help`` (and, if it names ``commands``, ``command``
    among them). Other metadata: ``choices``, ``range``, ``flag`` (``--name`` or ``--on/--off``),
    ``metavar``, ``required``, ``path`` (``click.Path`` arguments) and ``cli_default`` (the option's
    default when it differs from the field's: ``None`` means "not given", so the command can tell).
    A ``bool`` field is a flag.
    """

    hints = typing.get_type_hints(cls)

    def decorate(fn: Callable) -> Callable:
        for f in reversed(fields(cls)):
            meta = f.metadata
            if "help" not in meta or command not in meta.get("commands", (command,)):
                continue
            flag = meta.get("flag") or "--" + f.name.replace("_", "-")
            default = meta.get("cli_default", None if f.default is MISSING else f.default)
            base = _base_type(hints[f.name])
            kwargs: dict[str, Any] = {"help": meta["help"], "metavar": meta.get("metavar")}
            if meta.get("required"):
                kwargs["required"] = True
            elif base is bool and "/" not in flag:
                kwargs["is_flag"] = True
            else:
                kwargs["default"] = default
                kwargs["show_default"] = default is not None and default != ""
            if base is not bool:
                kwargs["type"] = click.Path(**meta["path"]) if meta.get("path") else _click_type(base, meta)
            fn = click.option(flag, f"cfg_{f.name}", **kwargs)(fn)
        return fn

    return decorate


def json_option(what: str) -> Callable[[Callable], Callable]:
    """``--json``: print ``what`` as one JSON object (solve: the run record; eval: the summary)."""
    return click.option("--json", "as_json", is_flag=True, help=f"Print {what} as one JSON object.")


def pop_config(cls: type, kwargs: dict[str, Any], **fixed: Any) -> Any:
    """Build ``cls`` from the ``cfg_*`` values :func:`config_options` added to ``kwargs`` (removed from it);
    an option not given (``None``) leaves the field's default."""
    values = {name[4:]: kwargs.pop(name) for name in list(kwargs) if name.startswith("cfg_")}
    return cls(**{k: v for k, v in values.items() if v is not None}, **fixed)  # not given: the field's default


__all__ = ["config_options", "json_option", "pop_config"]

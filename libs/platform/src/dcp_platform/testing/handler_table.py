"""The check every service's application tests make of its handler table: every command it
declares has exactly one handler (a command with no handler would be refused at run time)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import is_dataclass
from types import ModuleType


def declared_commands(module: ModuleType, *, not_commands: Iterable[type] = ()) -> set[type]:
    """The command classes of a service's `application/commands.py`: its dataclasses, less the
    bases other commands share their fields through and the values that are no commands."""
    declared = {
        obj
        for obj in vars(module).values()
        if isinstance(obj, type) and is_dataclass(obj) and obj.__module__ == module.__name__
    }
    bases = {base for command in declared for base in command.__mro__[1:]}
    return declared - bases - set(not_commands)


def assert_every_command_has_a_handler(
    module: ModuleType, handlers: Mapping[type, object], *, not_commands: Iterable[type] = ()
) -> None:
    commands = declared_commands(module, not_commands=not_commands)
    missing = sorted(c.__name__ for c in commands - set(handlers))
    unknown = sorted(c.__name__ for c in set(handlers) - commands)
    assert not missing and not unknown, (
        f"commands with no handler: {missing}; handlers of no command: {unknown}"
    )

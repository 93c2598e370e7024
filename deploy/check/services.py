"""The services under services/, read from their code: settings class, environment, port, subscriptions."""

from __future__ import annotations

import contextlib
import importlib
import importlib.metadata
import os
import tomllib
import types
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any
from unittest import mock

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from pydantic import AliasChoices, AliasPath, SecretBytes, SecretStr
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings

from deploy.check.report import REPO


@dataclass(frozen=True)
class EnvVar:
    """One environment variable a settings class reads."""

    field: str
    names: tuple[str, ...]  # accepted spellings, upper case unless the settings are case sensitive
    secret: bool


@dataclass
class Service:
    name: str  # the distribution and directory name, e.g. "case-service"
    directory: Path
    module: str  # "case_service"
    settings_class: type[BaseSettings]
    env: list[EnvVar]
    port: int
    service_name: str
    database_name: str
    consumed_topics: list[str] | None  # None: the app could not be built to read its subscriptions
    local_dependencies: set[str]  # the repository's distributions it needs (transitively)
    migrations: Path
    module_file: Path

    @property
    def settings_name(self) -> str:
        return self.settings_class.__name__

    def env_names(self) -> set[str]:
        return {name for var in self.env for name in var.names}


def _is_secret(info: FieldInfo) -> bool:
    def mentions_secret(annotation: Any) -> bool:
        if annotation in (SecretStr, SecretBytes):
            return True
        return any(mentions_secret(arg) for arg in typing.get_args(annotation))

    return info.repr is False or mentions_secret(info.annotation)


def settings_env(settings_class: type[BaseSettings]) -> list[EnvVar]:
    """The environment variables a pydantic-settings class reads (field names, aliases, env_prefix)."""
    config = settings_class.model_config
    prefix = str(config.get("env_prefix") or "")
    case_sensitive = bool(config.get("case_sensitive", False))
    result = []
    for name, info in settings_class.model_fields.items():
        alias = info.validation_alias
        if isinstance(alias, str):
            names = [alias]
        elif isinstance(alias, AliasChoices):
            names = [c if isinstance(c, str) else str(c.path[0]) for c in alias.choices]
        elif isinstance(alias, AliasPath):
            names = [str(alias.path[0])]
        elif info.alias:
            names = [info.alias]
        else:
            names = [prefix + name]
        if not case_sensitive:
            names = [n.upper() for n in names]
        result.append(EnvVar(field=name, names=tuple(names), secret=_is_secret(info)))
    return result


@contextlib.contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    """os.environ replaced by `values` for the block (settings classes read os.environ)."""
    with mock.patch.dict(os.environ, values, clear=True):
        yield


def local_distributions(repo: Path) -> dict[str, Path]:
    """Canonical name -> directory of every distribution under libs/ and services/."""
    result: dict[str, Path] = {}
    for pyproject in sorted([*repo.glob("libs/*/pyproject.toml"), *repo.glob("services/*/pyproject.toml")]):
        project = tomllib.loads(pyproject.read_text())["project"]
        result[canonicalize_name(project["name"])] = pyproject.parent
    return result


def _requirements_with_extras(distribution: str, extras: set[str]) -> Iterator[tuple[str, set[str]]]:
    """(canonical name, extras) of the runtime requirements of an installed distribution."""
    for line in importlib.metadata.requires(distribution) or []:
        requirement = Requirement(line)
        contexts = [{"extra": extra} for extra in extras] or [{"extra": ""}]
        if requirement.marker is None or any(requirement.marker.evaluate(c) for c in contexts):
            yield canonicalize_name(requirement.name), set(requirement.extras)


def runtime_closure(distribution: str) -> dict[str, set[str]]:
    """Every distribution `distribution` needs at run time, with the extras asked for."""
    seen: dict[str, set[str]] = {}
    pending: list[tuple[str, set[str]]] = [(canonicalize_name(distribution), set[str]())]
    while pending:
        name, extras = pending.pop()
        if name in seen and extras <= seen[name]:
            continue
        seen[name] = seen.get(name, set()) | extras
        pending.extend(_requirements_with_extras(name, seen[name]))
    return seen


@lru_cache(maxsize=4)
def discover_services(repo: Path = REPO) -> tuple[Service, ...]:
    """The services under services/, read from their code: settings class, port, subscriptions."""
    from dcp_platform.settings import ServiceSettings

    local = local_distributions(repo)
    services = []
    for pyproject in sorted(repo.glob("services/*/pyproject.toml")):
        project = tomllib.loads(pyproject.read_text())["project"]
        name = str(project["name"])
        module_name = name.replace("-", "_")
        main = importlib.import_module(f"{module_name}.main")
        # The service's own ServiceSettings subclass, defined in its package and named in its main module.
        classes = {
            value
            for value in vars(main).values()
            if isinstance(value, type)
            and issubclass(value, ServiceSettings)
            and value.__module__.split(".")[0] == module_name
        }
        if len(classes) != 1:
            raise RuntimeError(f"{module_name}.main must name exactly one settings class of its package")
        settings_class = classes.pop()
        with environment({}):
            defaults = settings_class()
        services.append(
            Service(
                name=name,
                directory=pyproject.parent,
                module=module_name,
                settings_class=settings_class,
                env=settings_env(settings_class),
                port=int(defaults.http_port),
                service_name=defaults.service_name,
                database_name=defaults.database_name,
                consumed_topics=_consumed_topics(main, settings_class),
                local_dependencies={d for d in runtime_closure(name) if d in local},
                migrations=Path(getattr(main, "MIGRATIONS", pyproject.parent / "migrations")),
                module_file=Path(str(main.__file__)),
            )
        )
    return tuple(services)


def _consumed_topics(main: types.ModuleType, settings_class: type[BaseSettings]) -> list[str] | None:
    """The topics the service consumes, read from its code (unprefixed names); None when unreadable.

    Every service app names its consumer groups in `app.state.consumers` (each with `group_id` and
    `topics`), whether they run on the platform runtime or, as the audit ingest, on its own writer.
    """
    try:
        with environment({}):
            app = main.create_app(settings_class())
    except Exception:
        return None
    consumers = getattr(app.state, "consumers", None)
    if consumers is None:
        return None
    return sorted({str(t) for consumer in consumers for t in consumer.topics})


def catalogue_topics() -> dict[str, bool]:
    """Topic -> is a dead-letter topic, for every catalogue topic and its DLQ."""
    from dcp_events import TOPICS
    from dcp_events.catalogue.registry import dlq_topic

    topics = {t: False for t in TOPICS}
    topics.update({dlq_topic(t): True for t in TOPICS})
    return topics

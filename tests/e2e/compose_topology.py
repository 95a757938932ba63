"""docker-compose.yml's Airflow services as local processes: the same commands and environment.

No Docker engine runs here, so the distributed tests run the compose file's services as processes. This
module reads the file the way Compose does (YAML anchors and merge keys, ``${VAR}`` interpolation from an
env file, ``env_file`` under ``environment``) and maps only what a container network changes: the service
hostnames to ports on 127.0.0.1 and the image's checkout path to this one. Whatever else the test sets is
listed by the test as a local-only override, so a setting that differs from the compose file is visible.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"
IMAGE_ROOT = "/opt/airflow-mlops"
# The long-running Airflow services of the stack (the init service runs once before them).
AIRFLOW_SERVICES = ("api-server", "scheduler", "dag-processor", "triggerer", "airflow-worker")
INIT_SERVICE = "airflow-init"
# Hostnames of the compose network; none may remain in a local service's settings after mapping.
NETWORK_HOSTS = ("postgres", "redis", "api-server", "statsd-exporter", "localhost")

_VARIABLE = re.compile(r"\$(?:\$|\{(?P<name>\w+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}|(?P<bare>\w+))")


class MissingVariable(ValueError):
    """A ``${VAR:?message}`` whose variable is unset: Compose refuses the file the same way."""


def read_dotenv(path: Path) -> dict[str, str]:
    """``KEY=VALUE`` lines (comments and blanks skipped), as Compose reads ``.env`` and ``env_file``."""
    values = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def interpolate(text: str, variables: Mapping[str, str]) -> str:
    """Compose's interpolation: ``$$``, ``$VAR``, ``${VAR}``, ``${VAR:-default}``, ``${VAR-default}``, ``${VAR:?err}``."""
    def replace(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group("name") or match.group("bare")
        op, arg = match.group("op"), match.group("arg") or ""
        value = variables.get(name)
        unset = value is None or (op is not None and op.startswith(":") and value == "")
        if op in (":-", "-") and unset:
            return arg
        if op in (":?", "?") and unset:
            raise MissingVariable(f"{name}: {arg}")
        return value or ""
    return _VARIABLE.sub(replace, text)


def _interpolate_all(node: Any, variables: Mapping[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, variables)
    if isinstance(node, list):
        return [_interpolate_all(item, variables) for item in node]
    if isinstance(node, dict):
        return {key: _interpolate_all(value, variables) for key, value in node.items()}
    return node


def load_compose(env_file: Path, compose_file: Path = COMPOSE_FILE) -> dict[str, Any]:
    """The compose model after interpolation, with each service's ``env_file`` merged under ``environment``."""
    variables = read_dotenv(env_file)
    model = _interpolate_all(yaml.safe_load(compose_file.read_text()), variables)
    for service in model["services"].values():
        if "env_file" in service:
            files = service["env_file"] if isinstance(service["env_file"], list) else [service["env_file"]]
            merged: dict[str, str] = {}
            for name in files:
                merged.update(read_dotenv((compose_file.parent / name).resolve()))
            merged.update({k: str(v) for k, v in (service.get("environment") or {}).items()})
            service["environment"] = merged
    return model


@dataclass(frozen=True)
class LocalService:
    """One compose service as a process: its argv, environment and health check, mapped to this machine."""

    name: str
    argv: list[str]
    env: dict[str, str]
    healthcheck: list[str] | None


class NetworkMap:
    """Rewrites compose-network addresses (``postgres:5432``, ``http://api-server:8080/``...) to local ones."""

    def __init__(self, replacements: Mapping[str, str]):
        self.replacements = dict(replacements)

    def apply(self, text: str) -> str:
        for old, new in self.replacements.items():
            text = text.replace(old, new)
        return text

    def unmapped(self, env: Mapping[str, str]) -> dict[str, str]:
        """Settings that still name a compose host: the local topology would not match the compose one."""
        pattern = re.compile(rf"(?://|@)({'|'.join(NETWORK_HOSTS)})\b|^({'|'.join(NETWORK_HOSTS)})$")
        return {key: value for key, value in env.items() if pattern.search(value) or value.startswith(IMAGE_ROOT)}


def _argv(service: Mapping[str, Any]) -> list[str]:
    """The process the image runs: its entrypoint runs ``airflow <command>`` unless the entrypoint is replaced."""
    command = service.get("command") or []
    command = shlex.split(command) if isinstance(command, str) else list(command)
    entrypoint = service.get("entrypoint")
    if entrypoint:
        return [*(shlex.split(entrypoint) if isinstance(entrypoint, str) else entrypoint), *command]
    return ["airflow", *command]


def _healthcheck(service: Mapping[str, Any], network: NetworkMap) -> list[str] | None:
    test = (service.get("healthcheck") or {}).get("test")
    if not test:
        return None
    kind, *rest = test
    if kind == "CMD-SHELL":
        return ["bash", "-c", network.apply(rest[0])]
    return [network.apply(part) for part in rest]


def local_service(model: Mapping[str, Any], name: str, network: NetworkMap) -> LocalService:
    service = model["services"][name]
    env = {key: network.apply(str(value)) for key, value in (service.get("environment") or {}).items()}
    return LocalService(name, [network.apply(part) for part in _argv(service)], env, _healthcheck(service, network))

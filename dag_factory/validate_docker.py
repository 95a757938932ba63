"""The rules of a ``docker`` task's settings, each error with its field path.

Kept apart from :mod:`validate` because it is about one operator's arguments: image references, commands
and Jinja in them, environment names (secrets go through ``secret_environment``), mounts (a bind mount of
an arbitrary host folder would hand the host to whoever writes a workflow), resources and the engine URL.
"""

from __future__ import annotations

import ast
import posixpath
import re
from pathlib import PurePosixPath

import jinja2

from airflow_mlops_dag_factory import settings
from airflow_mlops_dag_factory.errors import FieldError
from airflow_mlops_dag_factory.spec import KEY_PATTERN, DockerSpec, MountSpec, SecretRef

# distribution/reference grammar: [registry[:port]/]path[:tag][@digest]
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REGISTRY = r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?/)"
IMAGE_PATTERN = re.compile(
    rf"^{_REGISTRY}?{_COMPONENT}(?:/{_COMPONENT})*(?::[\w][\w.-]{{0,127}})?(?:@sha256:[a-f0-9]{{64}})?$")
ENV_NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
RESERVED_ENV_PREFIX = "MLOPS_"
# Names that say "secret": their values belong in secret_environment (Airflow's own sensitive-name idea).
SENSITIVE_WORDS = ("PASSWORD", "PASSWD", "SECRET", "TOKEN", "API_KEY", "APIKEY", "PRIVATE_KEY", "CREDENTIAL",
                   "ACCESS_KEY")
VOLUME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
NETWORK_PATTERN = re.compile(r"^(?:bridge|none|host|container:[A-Za-z0-9][A-Za-z0-9_.-]*|[A-Za-z0-9][A-Za-z0-9_.-]*)$")
MEM_PATTERN = re.compile(r"^[1-9][0-9]*[bkmgBKMG]?$")
ENGINE_SCHEMES = ("unix://", "tcp://", "http://", "https://", "ssh://")
_JINJA = jinja2.Environment()


def check_docker(docker: DockerSpec, path: str) -> list[FieldError]:
    errors: list[FieldError] = []
    if not IMAGE_PATTERN.match(docker.image):
        errors.append(FieldError(f"{path}.image", f"{docker.image!r} is not an image reference like "
                                 "'python:3.11-slim', 'registry.example.com/team/train:1.2' or 'name@sha256:<digest>'"))
    errors += _check_command(docker.command, f"{path}.command")
    secret_names = set(docker.secret_environment)
    for name, value in docker.environment.items():
        errors += _check_env_name(name, f"{path}.environment.{name}")
        if any(word in name.upper() for word in SENSITIVE_WORDS):
            errors.append(FieldError(f"{path}.environment.{name}", "looks like a secret: reference an Airflow "
                                     "Connection or Variable in secret_environment instead of storing the value"))
        if name in secret_names:
            errors.append(FieldError(f"{path}.environment.{name}", "is also in secret_environment"))
        errors += _check_template(value, f"{path}.environment.{name}")
    for name, ref in docker.secret_environment.items():
        errors += _check_env_name(name, f"{path}.secret_environment.{name}")
        errors += _check_secret_ref(ref, f"{path}.secret_environment.{name}")
    targets: dict[str, int] = {}
    for i, mount in enumerate(docker.mounts):
        errors += _check_mount(mount, f"{path}.mounts[{i}]")
        if mount.target in targets:
            errors.append(FieldError(f"{path}.mounts[{i}].target", f"also the target of mounts[{targets[mount.target]}]"))
        targets.setdefault(mount.target, i)
    if docker.working_dir is not None:
        errors += _check_absolute(docker.working_dir, f"{path}.working_dir")
    if docker.mem_limit is not None and not MEM_PATTERN.match(docker.mem_limit):
        errors.append(FieldError(f"{path}.mem_limit", "a size like '512m' or '2g' (b, k, m, g)"))
    if docker.network_mode is not None and not NETWORK_PATTERN.match(docker.network_mode):
        errors.append(FieldError(f"{path}.network_mode", "'bridge', 'none', 'host', 'container:<name>' or a network name"))
    if docker.docker_url is not None and not docker.docker_url.startswith(ENGINE_SCHEMES):
        errors.append(FieldError(f"{path}.docker_url", f"an engine URL starting with {', '.join(ENGINE_SCHEMES)}"))
    return errors


def _check_command(command: list[str] | str | None, path: str) -> list[FieldError]:
    if command is None:
        return []
    if isinstance(command, str):
        if not command.strip():
            return [FieldError(path, "must not be empty (leave it out to run the image's own command)")]
        if command.lstrip().startswith("["):  # the provider would read it as a Python list literal
            try:
                parsed = ast.literal_eval(command.strip())
            except (ValueError, SyntaxError):
                parsed = None
            if not (isinstance(parsed, list) and all(isinstance(a, str) for a in parsed)):
                return [FieldError(path, "a command starting with '[' must be a list of strings; send a JSON list")]
        return _check_template(command, path)
    if not command:
        return [FieldError(path, "must not be an empty list (leave it out to run the image's own command)")]
    errors: list[FieldError] = []
    for i, arg in enumerate(command):
        errors += _check_template(arg, f"{path}[{i}]")
    return errors


def _check_template(text: str, path: str) -> list[FieldError]:
    try:
        _JINJA.parse(text)
    except jinja2.TemplateSyntaxError as exc:
        return [FieldError(path, f"template error at line {exc.lineno}: {exc.message}")]
    return []


def _check_env_name(name: str, path: str) -> list[FieldError]:
    if not ENV_NAME_PATTERN.match(name):
        return [FieldError(path, "an environment variable name: letters, digits and '_', not starting with a digit")]
    if name.upper().startswith(RESERVED_ENV_PREFIX):
        return [FieldError(path, f"names starting with {RESERVED_ENV_PREFIX} are set by the plugin (params, upstream results)")]
    return []


def _check_secret_ref(ref: SecretRef, path: str) -> list[FieldError]:
    if (ref.connection is None) == (ref.variable is None):
        return [FieldError(path, "give either 'connection' (with 'field') or 'variable'")]
    name = ref.connection if ref.connection is not None else ref.variable
    key = "connection" if ref.connection is not None else "variable"
    if not name or not KEY_PATTERN.match(name):
        return [FieldError(f"{path}.{key}", "an Airflow id: letters, digits, '_', '-' and '.'")]
    if ref.variable is not None and ref.field != "password":
        return [FieldError(f"{path}.field", "only a connection reference takes a field")]
    return []


def _check_mount(mount: MountSpec, path: str) -> list[FieldError]:
    errors = _check_absolute(mount.target, f"{path}.target")
    if mount.type == "tmpfs":
        if mount.source:
            errors.append(FieldError(f"{path}.source", "a tmpfs mount takes no source"))
    elif not mount.source:
        errors.append(FieldError(f"{path}.source", f"a {mount.type} mount needs a source"))
    elif mount.type == "volume":
        if not VOLUME_PATTERN.match(mount.source):
            errors.append(FieldError(f"{path}.source", "a volume name: letters, digits, '_', '.', '-'"))
    else:
        source_errors = _check_absolute(mount.source, f"{path}.source")
        if not source_errors and not bind_allowed(mount.source):
            roots = ", ".join(str(r) for r in settings.docker_bind_roots())
            source_errors.append(FieldError(f"{path}.source", f"only folders under {roots} may be bind-mounted "
                                            "([mlops] docker_bind_roots)"))
        errors += source_errors
    return errors


def bind_allowed(source: str) -> bool:
    """Whether ``source`` lies inside an allowed root (compared as normalised absolute paths)."""
    normal = PurePosixPath(posixpath.normpath(source))
    return any(normal == PurePosixPath(posixpath.normpath(str(root))) or
               PurePosixPath(posixpath.normpath(str(root))) in normal.parents for root in settings.docker_bind_roots())


def _check_absolute(value: str, path: str) -> list[FieldError]:
    if not value.startswith("/"):
        return [FieldError(path, "must be an absolute path")]
    if ".." in PurePosixPath(value).parts:
        return [FieldError(path, "must not contain '..'")]
    if "\x00" in value or "," in value or ":" in value:
        return [FieldError(path, "must not contain NUL, ',' or ':'")]
    return []

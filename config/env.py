"""Typed readers for environment variables.

Modelled on healthchecks' ``envbool``/``envint``: a malformed value stops start-up with a message that
names the variable, instead of being guessed at. Kept free of Django imports so settings can use it.

Every variable can instead be given as a file: ``<NAME>_FILE`` names a file whose content is the value
(one trailing newline dropped), the way container orchestrators hand out secrets (``/run/secrets/…``).
Setting both ``NAME`` and ``NAME_FILE`` is an error, as is a file that cannot be read. All readers go
through :func:`env_raw`, so the rule holds for every setting, and the value read from a file is checked
by the same rule as one from the environment.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Callable
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


FILE_SUFFIX = "_FILE"


def env_raw(name: str) -> str | None:
    """The value of ``name`` from the environment, or from the file ``<name>_FILE`` names; None if neither
    is set."""
    file_name = name + FILE_SUFFIX
    value = os.environ.get(name)
    path = os.environ.get(file_name)
    if path is None:
        return value
    if value is not None:
        raise ImproperlyConfigured(f"{name} and {file_name} are both set: set only one of them")
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) else "not UTF-8 text"
        raise ImproperlyConfigured(f"{file_name}: cannot read {path!r}: {reason}") from None
    return text.removesuffix("\n").removesuffix("\r")


def env_names(prefix: str) -> list[str]:
    """The variables whose names start with ``prefix``, each once whether given directly or as a file."""
    names = {key.removesuffix(FILE_SUFFIX) for key in os.environ if key.startswith(prefix)}
    return sorted(names)


def env_str(name: str, default: str = "") -> str:
    value = env_raw(name)
    return default if value is None else value


def env_bool(name: str, default: bool) -> bool:
    raw = env_raw(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false/1/0), got {raw!r}")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = env_raw(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {value}")
    return value


def env_list(name: str, default: list[str] | None = None) -> list[str]:
    raw = env_raw(name)
    if raw is None:
        return list(default or [])
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = env_str(name, default).strip()
    if value not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


def require(name: str) -> str:
    """The value of a variable that production cannot run without."""
    value = env_str(name).strip()
    if not value:
        raise ImproperlyConfigured(f"{name} (or {name}{FILE_SUFFIX}) is required when PULSE_ENV=production")
    return value


def generated_secret(path: Path, make: Callable[[], str] = lambda: secrets.token_urlsafe(50)) -> str:
    """A secret generated once by ``make`` and kept in a file under var/ (development only).

    The file is created with mode 0600 so the secret is readable only by the user running Pulse. Several
    processes can start at once on a fresh checkout (gunicorn's workers, a Celery worker beside them): each
    writes its candidate to a private temporary file and hard-links it into place, which succeeds for exactly
    one of them; the others read the winner's file. The link makes the file appear whole, so no process ever
    reads a half-written secret, and all of them end up with the same one.
    """
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = make()
    fd, candidate = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mode 0600
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(value + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(candidate, path)
        except FileExistsError:
            return path.read_text().strip()
    finally:
        os.unlink(candidate)
    return value

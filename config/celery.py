"""The Celery app (cookiecutter-django's four lines): settings come from Django's, prefixed CELERY_."""

import os
from pathlib import Path

from celery import Celery
from celery.beat import PersistentScheduler
from celery.signals import beat_init, setup_logging, worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("pulse")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


class Scheduler(PersistentScheduler):
    """Beat's own persistent scheduler, which first makes the directory of its schedule file.

    Beat keeps that file under ``PULSE_VAR_DIR``. On a fresh deployment whose var directory did not exist
    yet, beat exited at once and nothing was ever sent. A directory that cannot be made stops beat with a
    message that names the setting."""

    def setup_schedule(self) -> None:
        directory = Path(self.schedule_filename).parent  # type: ignore[attr-defined]  # set by its __init__
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise SystemExit(
                f"celery beat: cannot create {directory} for its schedule file ({error.strerror}); "
                "set PULSE_VAR_DIR to a writable directory"
            ) from None
        super().setup_schedule()


def _mark_ready(name: str) -> None:
    """``make run`` prints its URL and log-ins once web, worker and beat are up (``pulse_welcome``): the
    worker and beat say so with a file under the var directory. Development only."""
    from django.conf import settings

    if settings.PRODUCTION:
        return
    directory = Path(settings.VAR_DIR) / "run"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / f"{name}.ready").write_text(str(os.getpid()))
    except OSError:
        pass  # only the start-up message waits for it


@setup_logging.connect
def _django_logging(loglevel: int | str | None = None, **kwargs: object) -> None:
    """Workers and beat log through Django's ``LOGGING`` (config/logs.py), like the web processes: the same
    format (``PULSE_LOG_FORMAT``), handlers and token redaction. With a receiver for this signal Celery
    leaves logging alone instead of putting its own handler on the root logger. Celery's own loggers keep
    the level of ``--loglevel`` (its "ready." line, tasks received and done); Pulse's follow ``LOG_LEVEL``."""
    import logging
    import logging.config

    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)
    if loglevel:
        logging.getLogger("celery").setLevel(loglevel)


@worker_ready.connect
def _worker_ready(**kwargs: object) -> None:
    _mark_ready("worker")


@beat_init.connect
def _beat_ready(**kwargs: object) -> None:
    _mark_ready("beat")

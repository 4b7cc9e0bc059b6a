"""The Celery app (cookiecutter-django's four lines): settings come from Django's, prefixed CELERY_."""

import os
from pathlib import Path

from celery import Celery
from celery.beat import PersistentScheduler

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

"""Settings for the ``submit`` benchmark's gunicorn: Pulse's own, plus a URLconf with the baseline view.

The baseline view lives only in ``pulse.devtools.benchmarks.submit_urls``, never in the production URLconf.
(Not a benchmark itself: no ``run``.)
"""

from config.settings import *  # noqa: F403 - the benchmark measures exactly Pulse's configuration

ROOT_URLCONF = "pulse.devtools.benchmarks.submit_urls"
DEBUG = False  # DEBUG keeps every query in memory: not what production runs
# Production does not rescan static files per request (development does, to serve edits at once); the
# benchmark measures what production runs. Files are still found through the finders, once, at start-up.
WHITENOISE_AUTOREFRESH = False
# wrk sends every submission from one address: the API throttle still counts each one (its cost is
# measured), at a rate it never reaches.
PULSE_RATE_LIMITS = {**PULSE_RATE_LIMITS, "api_anon_ip": "1000000000/60"}  # noqa: F405

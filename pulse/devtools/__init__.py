"""Development tools: the benchmarks (``manage.py pulse_bench``) and the demo's history
(``manage.py pulse_demo_history``).

An app of its own so that production does not carry it: ``config/settings.py`` installs it only when
``PULSE_ENV`` is not ``production``, so there its commands do not exist. Both commands also refuse to run
when settings say production, in case the app is installed there by hand.
"""

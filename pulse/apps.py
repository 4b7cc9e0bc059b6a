from django.apps import AppConfig


class PulseConfig(AppConfig):
    name = "pulse"
    verbose_name = "Pulse: results, trends and flags"

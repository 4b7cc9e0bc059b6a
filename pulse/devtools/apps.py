from django.apps import AppConfig


class DevtoolsConfig(AppConfig):
    name = "pulse.devtools"
    label = "devtools"
    verbose_name = "Pulse development tools: benchmarks and demo history"

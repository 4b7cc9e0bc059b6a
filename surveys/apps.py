from django.apps import AppConfig


class SurveysConfig(AppConfig):
    name = "surveys"
    verbose_name = "Surveys: organisation, instruments, rounds"

    def ready(self) -> None:
        # Connected here, once the models are loaded, rather than as a side effect of importing a service:
        # the submit path's per-process cache of round questions forgets every round when a round is
        # created, deleted or given other instruments (``answering.RoundSpecsCache``).
        from django.db.models.signals import m2m_changed, post_delete, post_save

        from surveys.models import Round
        from surveys.services.answering import round_specs_cache

        post_save.connect(round_specs_cache.clear, sender=Round, dispatch_uid="answering_specs_round_saved")
        post_delete.connect(
            round_specs_cache.clear, sender=Round, dispatch_uid="answering_specs_round_deleted"
        )
        m2m_changed.connect(
            round_specs_cache.clear,
            sender=Round.instruments.through,
            dispatch_uid="answering_specs_instruments",
        )

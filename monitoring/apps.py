from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "monitoring"
    verbose_name = "Health checks, metrics and request logs"

    def ready(self) -> None:
        from audit.inflight import commit_observers
        from monitoring.metrics import audit_commit_observe

        if audit_commit_observe not in commit_observers:
            commit_observers.append(audit_commit_observe)

"""`manage.py check` holds every configured setting to its bounds and relations (core/conf.py).

authportal/settings.py refuses a bad environment before Django starts; these checks catch what a
settings module or an override sets by other means.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.core.checks import CheckMessage, Error, register

from core.conf import AppSettings, app_settings


@register()
def settings_check(app_configs: Sequence[AppConfig] | None, **kwargs: Any) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    for spec in AppSettings.specs():
        if problem := spec.problem(spec.__get__(app_settings, AppSettings)):
            errors.append(Error(problem, id=spec.check_id))
    for relation in AppSettings.RELATIONS:
        lower = relation.lower.__get__(app_settings, AppSettings)
        upper = relation.upper.__get__(app_settings, AppSettings)
        if problem := relation.problem(lower, upper):
            errors.append(Error(problem, id=relation.check_id))
    return errors

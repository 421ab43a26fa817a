"""The client form explains its one puzzling field."""

from __future__ import annotations

from django.urls import reverse


def test_represents_service_says_in_one_line_what_it_means(admin_client, ms_doctor, ms_reports):
    for url in (reverse("portal:client_create"), reverse("portal:client_edit", args=[ms_reports.client.pk])):
        field = admin_client.get(url).context["form"]["service"]
        assert field.label == "Represents service"
        assert field.help_text == (
            "The service that uses this client. A label only: grants decide what it may call."
        )

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "authportal.settings")

django_application = get_wsgi_application()

# Imported once Django is set up.
from authportal.deadlines import with_database_deadlines  # noqa: E402
from monitoring import SHORT_DEADLINE_PATHS  # noqa: E402
from oauth.errors import PROTOCOL_PATH_PREFIXES  # noqa: E402

# Probes and scrapes wait for the database no longer than a token request does.
application = with_database_deadlines(
    django_application, protocol_paths=(*PROTOCOL_PATH_PREFIXES, *SHORT_DEADLINE_PATHS)
)

# Served: each worker process writes its throttled counts from a thread of its own (throttling/ledger.py).
from throttling.ledger import ledger_in_background  # noqa: E402

ledger_in_background()

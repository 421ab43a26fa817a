import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "authportal.settings")

application = get_wsgi_application()

# Imported once Django is set up.
from authportal.deadlines import with_database_deadlines  # noqa: E402
from oauth.errors import PROTOCOL_PATH_PREFIXES  # noqa: E402

application = with_database_deadlines(application, protocol_paths=PROTOCOL_PATH_PREFIXES)

# Served: each worker process writes its throttled counts from a thread of its own (throttling/ledger.py).
from throttling.ledger import ledger_in_background  # noqa: E402

ledger_in_background()

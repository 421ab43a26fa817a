import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "authportal.settings")

django_application = get_wsgi_application()

# Imported once Django is set up.
from authportal.deadlines import with_database_deadlines  # noqa: E402
from oauth.errors import PROTOCOL_PATH_PREFIXES  # noqa: E402

application = with_database_deadlines(django_application, protocol_paths=PROTOCOL_PATH_PREFIXES)

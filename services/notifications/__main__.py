"""`python -m services.notifications`: run the notifications service until SIGINT or SIGTERM."""

from runtime.service import serve
from services.notifications.app import create_app
from services.notifications.settings import Settings

settings = Settings()
serve(create_app(settings), settings)

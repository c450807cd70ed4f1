"""`python -m services.operations`: run the operations service until SIGINT or SIGTERM."""

from runtime.service import serve
from services.operations.app import create_app
from services.operations.settings import Settings

settings = Settings()
serve(create_app(settings), settings)

"""`python -m services.matching`: run the matching service until SIGINT or SIGTERM."""

from runtime.service import serve
from services.matching.app import create_app
from services.matching.settings import Settings

settings = Settings()
serve(create_app(settings), settings)

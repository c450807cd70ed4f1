"""`python -m services.vacancies`: run the vacancies service until SIGINT or SIGTERM."""

from runtime.service import serve
from services.vacancies.app import create_app
from services.vacancies.settings import Settings

settings = Settings()
serve(create_app(settings), settings)

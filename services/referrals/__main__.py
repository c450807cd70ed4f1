"""`python -m services.referrals`: run the referrals service until SIGINT or SIGTERM."""

from runtime.service import serve
from services.referrals.app import create_app
from services.referrals.settings import Settings

settings = Settings()
serve(create_app(settings), settings)

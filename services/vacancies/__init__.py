"""Vacancies: employer brokerage posts and scopes vacancies, records placements and sustainment."""

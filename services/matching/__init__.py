"""Matching: pairs job-ready clients with open, scoped vacancies, with scores anyone can explain."""

"""Referrals: clients from JCP claimant events, consent, referrals to providers, job-readiness."""

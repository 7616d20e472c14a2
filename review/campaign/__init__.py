"""Running a review campaign: prompt sets, pairing models into studies, who works on which
study, leases of items, the reviewer's next screen, votes, progress and study settings.
"""

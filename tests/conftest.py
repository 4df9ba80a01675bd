"""Test-suite configuration: every Hypothesis test draws the same examples on every run (CI is
reproducible: derandomised, no example database)."""

from hypothesis import settings

settings.register_profile("gelav", derandomize=True, database=None)
settings.load_profile("gelav")

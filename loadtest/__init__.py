"""The load test (``locust -f loadtest/locustfile.py`` from the repository root; ``make load``)."""

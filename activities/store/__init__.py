"""The data layer: every SQL statement of the project lives in this package.

One repository per concern, each over the one asyncpg pool, each returning models:
`cases` (case rows, events, intake), `roster`, `outbox`, `reports`, `access` (API credentials and the
record of personal-data reads). Only activities, the worker, the API and operator commands import it.
"""

"""The project's simulator of its sources: the provincial TTHC replica and the national store.

`source_schema` creates the replica's tables (sources.md §1), `national_store` the tables the
mock national services serve (sources.md §2), and `generator` fills both with a seeded,
deterministic province, planting known defects and dirty rows at configured rates.
"""

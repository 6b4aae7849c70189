"""Event store (DuckDB + Parquet) and the queries over it."""

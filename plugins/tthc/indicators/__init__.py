"""The indicator engine (chỉ số): the national service index and the duties of letter 11821.

- `catalogue`: config/indicators.yaml, validated (what each indicator is called and how scored)
- `scoring`: the portal's scoring rules (points from numerator and denominator)
- `engine`: computes a monthly period into the warehouse's result tables
- `export`: writes the period's CSV files (outputs.md)

Each indicator's definition is its SQL file, include/sql/indicators/<code>.sql.
"""

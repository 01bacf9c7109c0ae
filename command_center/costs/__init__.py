"""Cost–benefit accounting (成本—收益核算, docs/COSTS.md): budget lines per area and month,
what they mean (lines.py), their import from CSV or XLSX (importer.py) and a sample year for
the demo (sample.py). The attribution itself is SQL: store/cost_queries.py."""

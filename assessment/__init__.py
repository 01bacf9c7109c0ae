"""Performance assessment (绩效考核), pure: the scheme (configs/assessment.yaml), the scoring of
indicator values, ranks, top and bottom lists, honours for consecutive months and the
digest that makes a frozen month's reproducibility checkable. No database, no server: the
indicator values come from command_center/store/assessment_sql.py (docs/ASSESSMENT.md)."""

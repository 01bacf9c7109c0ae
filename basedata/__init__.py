"""Grid base data (四标四实): standard addresses, buildings, households, people and
organisations, each filed under a grid, with its source and its verification dates.

Flow, one way: `model` (the records) ← `identity` (ID numbers, phones, credit codes checked)
← `protect` (personal fields encrypted, indexed, masked) ← `cycles` (when a record is due for
re-checking) ← `sample` (a district at scale, for tests and the bench). The store
(command_center/store/basedata_records.py), the importer (command_center/importing/basedata.py)
and the API build on these; nothing here imports them.
"""

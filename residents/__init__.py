"""Residents (居民): who signs in to the citizens' page, and how.

Pure domain, no store and no HTTP: `phone` (mainland mobile numbers: normalised, checked,
masked), `codes` (one-time sign-in codes: made, kept only as a keyed hash, checked against
expiry, tries and single use), `limits` (how often a code may be asked for, per phone and per
client address), `sms` (the `SmsSender` protocol and its registry: the demo's `log` sender),
`tokens` (a resident's signed session token, apart from staff tokens) and `config` (the typed
`residents:` section). The store (command_center/store/resident_records.py) and the API
(command_center/api/residents.py) build on these; nothing here imports them. See docs/RESIDENTS.md.
"""

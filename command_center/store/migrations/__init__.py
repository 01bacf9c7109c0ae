"""Plain SQL migrations, applied in order by command_center.store.migrate (a package so they ship)."""

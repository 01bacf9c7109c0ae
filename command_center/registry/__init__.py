"""The city's registry: what its grid office administers (the roster, cameras, the matter
catalogue, the working calendar, supervision settings), kept in the store, imported from
its own files or changed in the admin console, and applied live on every node."""

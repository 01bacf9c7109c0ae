"""Training the project's own detector on scenes the project renders itself."""

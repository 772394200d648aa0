"""The bump step: the version written into the configured files, committed and pushed."""

"""Running steps without knowing them: pre-flight, the scheduler, the report."""

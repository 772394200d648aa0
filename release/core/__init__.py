"""The floor every other one stands on: version, configuration, git, console, errors, HTTP.

Nothing here knows of steps, plans or runs.
"""

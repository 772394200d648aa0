"""What each task does, end to end: tasks.py calls one function here."""

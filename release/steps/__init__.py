"""One package per step: its step, its light checks, its clients and its pure rules."""

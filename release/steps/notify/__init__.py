"""The notify step: the release announced on Discord, posted once and edited after."""

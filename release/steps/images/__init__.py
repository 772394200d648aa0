"""The push-image step: images built, pushed under their version tags, channels moved."""

"""The build and upload steps: sdists and wheels built, verified and uploaded to the index."""

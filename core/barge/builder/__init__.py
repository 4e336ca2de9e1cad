"""The classic builder: Dockerfile parsing, .dockerignore, and (later) the build jobs."""

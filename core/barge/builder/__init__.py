"""The classic builder: ``POST /build`` run step by step in real containers, with Docker's cache."""

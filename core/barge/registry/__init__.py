"""Registry client, daemon-side pull/push and barge's own registry server."""

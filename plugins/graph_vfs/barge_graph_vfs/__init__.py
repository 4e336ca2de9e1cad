"""barge's ``vfs`` graph driver: each layer is a full copy of its parent."""

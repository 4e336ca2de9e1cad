"""barge's ``overlay`` graph driver: layers stacked with overlayfs."""

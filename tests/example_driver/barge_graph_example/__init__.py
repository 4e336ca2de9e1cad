"""An example third-party graph driver for barge (``hardlink``)."""

"""The Dockerfile language and ``.dockerignore`` as Docker reads them: pure, shared by both sides.

The daemon's builder (``barge.builder``) runs what ``parser`` and
``instructions`` read; the CLI's ``barge build`` walks its context with
``dockerignore`` as the docker CLI does. Nothing here touches a daemon.
"""

"""What confines a container besides its namespaces: seccomp profiles and ``--security-opt``.

Core decides (:mod:`.options` reads a create request's ``SecurityOpt``;
:mod:`.seccomp` turns a profile in Docker's JSON format into the exec
driver's plain-data :class:`barge.execdriver.Seccomp` for one container's
capabilities, architecture and kernel); the exec driver compiles and loads
the filter. :mod:`.default_seccomp` is Docker's default profile.
"""

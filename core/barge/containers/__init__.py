"""Containers in core: records, the spec builder and the lifecycle service.

* :mod:`.names` - Docker's name rules and generated ``adjective_surname`` names;
* :mod:`.state` - the State record and the strings ``ps`` shows;
* :mod:`.spec` - create request + image config -> stored Config/HostConfig,
  and at start -> :class:`barge.execdriver.ContainerSpec` (pure functions);
* :mod:`.users` - ``-u name|uid[:group|gid]`` from the image's passwd/group;
* :mod:`.sysinfo` - what this machine's cgroups and kernel can apply, read once;
* :mod:`.limits` - HostConfig resources checked, completed or discarded with dockerd's
  warning (create and update; docs/hostconfig.md is the table);
* :mod:`.store` - container rows in the graph db, crash-safe create and rm;
* :mod:`.views` - Docker's inspect and list shapes;
* :mod:`.filters` - ``ps`` filters;
* :mod:`.logs` - reading the json-file log and its rotations;
* :mod:`.monitor` - the client side of the monitor's attach socket;
* :mod:`.service` - the lifecycle (create, start, stop, ..., exit watchers,
  restart policies, reconcile at daemon start) over the ``barge_exec_*`` hooks.
"""

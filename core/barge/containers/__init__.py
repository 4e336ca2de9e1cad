"""Containers in core: records, the spec builder and the lifecycle service.

* :mod:`.names` - Docker's name rules and generated ``adjective_surname`` names;
* :mod:`.state` - the State record and the strings ``ps`` shows;
* :mod:`.spec` - create request + image config -> stored Config/HostConfig,
  and at start -> :class:`barge.execdriver.ContainerSpec` (pure functions);
* :mod:`.users` - ``-u name|uid[:group|gid]`` from the image's passwd/group;
* :mod:`.sysinfo` - what this machine's cgroups and kernel can apply, read once;
* :mod:`.limits` - HostConfig resources checked, completed or discarded with dockerd's
  warning (create and update; docs/hostconfig.md is the table);
* :mod:`.store` - container rows in the daemon's db, crash-safe create and rm;
* :mod:`.views` - Docker's inspect and list shapes;
* :mod:`.filters` - ``ps`` filters;
* :mod:`.logs` - reading the json-file log and its rotations;
* :mod:`.monitor` - the client side of the monitor's attach socket;
* :mod:`.service` - the container service, assembled from its parts over the
  ``barge_exec_*`` hooks: :mod:`.runtime` (records, locks and in-memory state),
  :mod:`.context` (what the parts share), :mod:`.create`, :mod:`.lifecycle`,
  :mod:`.stopping`, :mod:`.removal`, :mod:`.start`, :mod:`.supervisor` (exit
  watchers, restart policies, wait), :mod:`.recovery` (reconcile at daemon start),
  :mod:`.attach`, :mod:`.queries`, :mod:`.exec`, :mod:`.archive` and :mod:`.commit`;
  :mod:`.neighbours` declares what it needs of the network and volume services.
"""

"""Docker's plugins: the plugin protocol (JSON over HTTP on a socket), and managed plugins.

* :mod:`.transport` - one call to a plugin (``POST /Interface.Method``);
* :mod:`.discovery` - Docker's legacy plugins found by name
  (``/run/docker/plugins/<name>.sock``, ``/etc/docker/plugins/<name>.spec|.json``);
* :mod:`.volumedriver` - a plugin speaking ``VolumeDriver``, as a volume driver
  of :mod:`barge.volumes`;
* :mod:`.managed` - Docker's managed plugins: records and root file systems
  under ``<data_root>/plugins``;
* :mod:`.runner` - a managed plugin run as a container by the exec driver;
* :mod:`.builtin` - barge's installed driver packages shown as plugins;
* :mod:`.service` - the plugin service the jobs and the volume store use.
"""

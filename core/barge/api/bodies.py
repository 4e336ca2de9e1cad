"""The JSON bodies of the Engine API as :mod:`barge.gojson` types: moby's structs, as data.

Field names and Go types follow moby's ``api/types`` (API 1.47, plus the
fields newer clients send); the outermost types carry the names dockerd
20.10 quotes in its errors (``runconfig.ContainerConfigWrapper``,
``types.ExecConfig``, ...). A route decodes its body once, where it enters
(:func:`barge.api.routing.read_json`), and hands the checked dict on.

Only types and ranges live here, what Go's decoder itself enforces. Checks
that depend on the machine or on meaning (CPU counts, the memory minimum,
mount sources, restart policy names) stay with the services.

The builder (issue 11) decodes its JSON query parameters and the
``X-Registry-Config`` header with the types at the end of this module.
"""

from __future__ import annotations

from barge.gojson import (
    BOOL,
    DURATION,
    FILE_MODE,
    INT,
    INT64,
    STRING,
    STRSLICE,
    UINT,
    UINT16,
    UINT64,
    Array,
    List,
    Map,
    Nullable,
    Obj,
    Str,
)

STRINGS = List(STRING)
STRING_MAP = Map(STRING)
#: ``struct{}``: any object, its keys ignored (the values of ``Volumes``, ``ExposedPorts``).
EMPTY = Obj("struct {}", {})
CONSOLE_SIZE = Array(UINT, 2)

# ---------------------------------------------------------------------------
# container.Config
# ---------------------------------------------------------------------------

HEALTH_CONFIG = Obj("container.HealthConfig", {
    "Test": STRINGS, "Interval": DURATION, "Timeout": DURATION, "StartPeriod": DURATION,
    "StartInterval": DURATION, "Retries": INT,
})

CONFIG_FIELDS = {
    "Hostname": STRING, "Domainname": STRING, "User": STRING,
    "AttachStdin": BOOL, "AttachStdout": BOOL, "AttachStderr": BOOL,
    "ExposedPorts": Map(EMPTY, "nat.PortSet"), "Tty": BOOL, "OpenStdin": BOOL, "StdinOnce": BOOL,
    "Env": STRINGS, "Cmd": STRSLICE, "Healthcheck": HEALTH_CONFIG, "ArgsEscaped": BOOL, "Image": STRING,
    "Volumes": Map(EMPTY), "WorkingDir": STRING, "Entrypoint": STRSLICE, "NetworkDisabled": BOOL,
    "MacAddress": STRING, "OnBuild": STRINGS, "Labels": STRING_MAP, "StopSignal": STRING, "StopTimeout": INT,
    "Shell": STRSLICE,
}

# ---------------------------------------------------------------------------
# container.HostConfig and its Resources
# ---------------------------------------------------------------------------

WEIGHT_DEVICE = Obj("blkiodev.WeightDevice", {"Path": STRING, "Weight": UINT16})
THROTTLE_DEVICE = Obj("blkiodev.ThrottleDevice", {"Path": STRING, "Rate": UINT64})
THROTTLE_DEVICES = List(THROTTLE_DEVICE, "[]*blkiodev.ThrottleDevice")
DEVICE_MAPPING = Obj("container.DeviceMapping", {"PathOnHost": STRING, "PathInContainer": STRING,
                                                 "CgroupPermissions": STRING})
DEVICE_REQUEST = Obj("container.DeviceRequest", {
    "Driver": STRING, "Count": INT, "DeviceIDs": STRINGS, "Capabilities": List(STRINGS), "Options": STRING_MAP,
})
ULIMIT = Obj("units.Ulimit", {"Name": STRING, "Hard": INT64, "Soft": INT64})
ULIMITS = List(ULIMIT, "[]*units.Ulimit")

RESOURCES = {
    "CpuShares": INT64, "Memory": INT64, "NanoCpus": INT64, "CgroupParent": STRING, "BlkioWeight": UINT16,
    "BlkioWeightDevice": List(WEIGHT_DEVICE, "[]*blkiodev.WeightDevice"),
    "BlkioDeviceReadBps": THROTTLE_DEVICES, "BlkioDeviceWriteBps": THROTTLE_DEVICES,
    "BlkioDeviceReadIOps": THROTTLE_DEVICES, "BlkioDeviceWriteIOps": THROTTLE_DEVICES,
    "CpuPeriod": INT64, "CpuQuota": INT64, "CpuRealtimePeriod": INT64, "CpuRealtimeRuntime": INT64,
    "CpusetCpus": STRING, "CpusetMems": STRING, "Devices": List(DEVICE_MAPPING), "DeviceCgroupRules": STRINGS,
    "DeviceRequests": List(DEVICE_REQUEST), "KernelMemory": INT64, "KernelMemoryTCP": INT64,
    "MemoryReservation": INT64, "MemorySwap": INT64, "MemorySwappiness": INT64, "OomKillDisable": BOOL,
    "PidsLimit": INT64, "Ulimits": ULIMITS, "CpuCount": INT64, "CpuPercent": INT64,
    "IOMaximumIOps": UINT64, "IOMaximumBandwidth": UINT64,
}

RESTART_POLICY = Obj("container.RestartPolicy", {"Name": STRING, "MaximumRetryCount": INT})
LOG_CONFIG = Obj("container.LogConfig", {"Type": STRING, "Config": STRING_MAP})
PORT_BINDING = Obj("nat.PortBinding", {"HostIp": STRING, "HostPort": STRING})

MOUNT = Obj("mount.Mount", {
    "Type": Str("mount.Type"), "Source": STRING, "Target": STRING, "ReadOnly": BOOL,
    "Consistency": Str("mount.Consistency"),
    "BindOptions": Obj("mount.BindOptions", {
        "Propagation": Str("mount.Propagation"), "NonRecursive": BOOL, "CreateMountpoint": BOOL,
        "ReadOnlyNonRecursive": BOOL, "ReadOnlyForceRecursive": BOOL,
    }),
    "VolumeOptions": Obj("mount.VolumeOptions", {
        "NoCopy": BOOL, "Labels": STRING_MAP, "Subpath": STRING,
        "DriverConfig": Obj("mount.Driver", {"Name": STRING, "Options": STRING_MAP}),
    }),
    "ImageOptions": Obj("mount.ImageOptions", {"Subpath": STRING}),
    "TmpfsOptions": Obj("mount.TmpfsOptions", {"SizeBytes": INT64, "Mode": FILE_MODE, "Options": List(STRINGS)}),
    "ClusterOptions": Obj("mount.ClusterOptions", {}),
})

HOST_CONFIG = Obj("container.HostConfig", {
    "Binds": STRINGS, "ContainerIDFile": STRING, "LogConfig": LOG_CONFIG,
    "NetworkMode": Str("container.NetworkMode"),
    "PortBindings": Map(List(PORT_BINDING, "[]nat.PortBinding"), "nat.PortMap"),
    "RestartPolicy": RESTART_POLICY, "AutoRemove": BOOL, "VolumeDriver": STRING, "VolumesFrom": STRINGS,
    "ConsoleSize": CONSOLE_SIZE, "Annotations": STRING_MAP,
    "CapAdd": STRSLICE, "CapDrop": STRSLICE, "CgroupnsMode": Str("container.CgroupnsMode"),
    "Dns": STRINGS, "DnsOptions": STRINGS, "DnsSearch": STRINGS, "ExtraHosts": STRINGS, "GroupAdd": STRINGS,
    "IpcMode": Str("container.IpcMode"), "Cgroup": Str("container.CgroupSpec"), "Links": STRINGS,
    "OomScoreAdj": INT, "PidMode": Str("container.PidMode"), "Privileged": BOOL, "PublishAllPorts": BOOL,
    "ReadonlyRootfs": BOOL, "SecurityOpt": STRINGS, "StorageOpt": STRING_MAP, "Tmpfs": STRING_MAP,
    "UTSMode": Str("container.UTSMode"), "UsernsMode": Str("container.UsernsMode"), "ShmSize": INT64,
    "Sysctls": STRING_MAP, "Runtime": STRING, "Isolation": Str("container.Isolation"),
    **RESOURCES,
    "Mounts": List(MOUNT), "MaskedPaths": STRINGS, "ReadonlyPaths": STRINGS, "Init": BOOL,
})

# ---------------------------------------------------------------------------
# networks
# ---------------------------------------------------------------------------

ENDPOINT_SETTINGS = Obj("network.EndpointSettings", {
    "IPAMConfig": Obj("network.EndpointIPAMConfig", {
        "IPv4Address": STRING, "IPv6Address": STRING, "LinkLocalIPs": STRINGS,
    }),
    "Links": STRINGS, "Aliases": STRINGS, "DriverOpts": STRING_MAP, "GwPriority": INT, "MacAddress": STRING,
    "NetworkID": STRING, "EndpointID": STRING, "Gateway": STRING, "IPAddress": STRING, "IPPrefixLen": INT,
    "IPv6Gateway": STRING, "GlobalIPv6Address": STRING, "GlobalIPv6PrefixLen": INT, "DNSNames": STRINGS,
})

NETWORKING_CONFIG = Obj("network.NetworkingConfig", {
    "EndpointsConfig": Map(ENDPOINT_SETTINGS, "map[string]*network.EndpointSettings"),
})

IPAM = Obj("network.IPAM", {
    "Driver": STRING, "Options": STRING_MAP,
    "Config": List(Obj("network.IPAMConfig", {
        "Subnet": STRING, "IPRange": STRING, "Gateway": STRING, "AuxiliaryAddresses": STRING_MAP,
    })),
})

# ---------------------------------------------------------------------------
# volumes (the cluster spec is swarm's; barge decodes it only to check it)
# ---------------------------------------------------------------------------

TOPOLOGIES = List(Obj("volume.Topology", {"Segments": STRING_MAP}))
CLUSTER_VOLUME_SPEC = Obj("volume.ClusterVolumeSpec", {
    "Group": STRING,
    "AccessMode": Obj("volume.AccessMode", {
        "Scope": Str("volume.Scope"), "Sharing": Str("volume.SharingMode"),
        "MountVolume": Obj("volume.TypeMount", {"FsType": STRING, "MountFlags": STRINGS}),
        "BlockVolume": Obj("volume.TypeBlock", {}),
    }),
    "AccessibilityRequirements": Obj("volume.TopologyRequirement", {"Requisite": TOPOLOGIES,
                                                                    "Preferred": TOPOLOGIES}),
    "CapacityRange": Obj("volume.CapacityRange", {"RequiredBytes": INT64, "LimitBytes": INT64}),
    "Secrets": List(Obj("volume.Secret", {"Key": STRING, "Secret": STRING})),
    "Availability": Str("volume.Availability"),
})

# ---------------------------------------------------------------------------
# the request bodies
# ---------------------------------------------------------------------------

#: ``POST /containers/create``: Config at the top level, HostConfig, NetworkingConfig.
CONTAINER_CREATE = Obj("runconfig.ContainerConfigWrapper", {
    **CONFIG_FIELDS, "HostConfig": HOST_CONFIG, "NetworkingConfig": NETWORKING_CONFIG,
})
#: ``POST /commit``: a Config (dockerd reads it with the create decoder, hence the name).
COMMIT = Obj("runconfig.ContainerConfigWrapper", CONFIG_FIELDS)
#: ``POST /containers/{id}/update``.
CONTAINER_UPDATE = Obj("container.UpdateConfig", {**RESOURCES, "RestartPolicy": RESTART_POLICY})
#: ``POST /containers/{id}/exec``.
EXEC_CREATE = Obj("types.ExecConfig", {
    "User": STRING, "Privileged": BOOL, "Tty": BOOL, "ConsoleSize": CONSOLE_SIZE, "AttachStdin": BOOL,
    "AttachStderr": BOOL, "AttachStdout": BOOL, "Detach": BOOL, "DetachKeys": STRING, "Env": STRINGS,
    "WorkingDir": STRING, "Cmd": STRINGS,
})
#: ``POST /exec/{id}/start``.
EXEC_START = Obj("types.ExecStartCheck", {"Detach": BOOL, "Tty": BOOL, "ConsoleSize": CONSOLE_SIZE})
#: ``POST /networks/create``.
NETWORK_CREATE = Obj("types.NetworkCreateRequest", {
    "Name": STRING, "CheckDuplicate": BOOL, "Driver": STRING, "Scope": STRING, "EnableIPv4": BOOL,
    "EnableIPv6": BOOL, "IPAM": IPAM, "Internal": BOOL, "Attachable": BOOL, "Ingress": BOOL,
    "ConfigOnly": BOOL, "ConfigFrom": Obj("network.ConfigReference", {"Network": STRING}),
    "Options": STRING_MAP, "Labels": STRING_MAP,
})
#: ``POST /networks/{id}/connect``.
NETWORK_CONNECT = Obj("types.NetworkConnect", {"Container": STRING, "EndpointConfig": ENDPOINT_SETTINGS})
#: ``POST /networks/{id}/disconnect``.
NETWORK_DISCONNECT = Obj("types.NetworkDisconnect", {"Container": STRING, "Force": BOOL})
#: ``POST /volumes/create``.
VOLUME_CREATE = Obj("volume.VolumeCreateBody", {
    "Name": STRING, "Driver": STRING, "DriverOpts": STRING_MAP, "Labels": STRING_MAP,
    "ClusterVolumeSpec": CLUSTER_VOLUME_SPEC,
})
#: ``POST /auth``, and the body form of a push's credentials (JSON names are lower case).
AUTH_CONFIG = Obj("types.AuthConfig", {
    name: STRING for name in ("username", "password", "auth", "email", "serveraddress", "identitytoken",
                              "registrytoken")
})

# ---------------------------------------------------------------------------
# for the builder (issue 11): its JSON query parameters and headers
# ---------------------------------------------------------------------------

#: ``buildargs``: a null value means "take it from the environment".
BUILD_ARGS = Map(Nullable(STRING), "map[string]*string")
#: ``labels``.
BUILD_LABELS = STRING_MAP
#: ``cachefrom``.
BUILD_CACHE_FROM = STRINGS
#: ``ulimits``.
BUILD_ULIMITS = ULIMITS
#: ``X-Registry-Config``: credentials by registry.
REGISTRY_CONFIG = Map(AUTH_CONFIG, "map[string]types.AuthConfig")

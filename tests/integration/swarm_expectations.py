"""What dockerd 20.10 answers for the swarm manager's objects on a host that is not in a swarm."""

NOT_A_MANAGER = ('This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect '
                 "this node to swarm and try again.")

MANAGER_ROUTES = [
    ("GET", "/swarm"), ("POST", "/swarm/update?version=1"), ("POST", "/swarm/unlock"), ("GET", "/swarm/unlockkey"),
    ("GET", "/nodes"), ("GET", "/nodes/x"), ("DELETE", "/nodes/x"), ("POST", "/nodes/x/update?version=1"),
    ("GET", "/services"), ("POST", "/services/create"), ("GET", "/services/x"), ("DELETE", "/services/x"),
    ("POST", "/services/x/update?version=1"), ("GET", "/tasks"), ("GET", "/tasks/x"),
    ("GET", "/secrets"), ("POST", "/secrets/create"), ("GET", "/secrets/x"), ("DELETE", "/secrets/x"),
    ("POST", "/secrets/x/update?version=1"), ("GET", "/configs"), ("POST", "/configs/create"), ("GET", "/configs/x"),
    ("DELETE", "/configs/x"), ("POST", "/configs/x/update?version=1"),
]

"""Networks in core: records, addresses, published ports, sandboxes and the embedded DNS.

The network driver (``barge.network_drivers``) makes links and firewall
rules real; everything that must be remembered, decided or shared between
drivers lives here (see :mod:`barge.netdriver` for who owns what).
"""

"""barge's ``bridge`` network driver: Linux bridges, veth pairs, one nftables table."""

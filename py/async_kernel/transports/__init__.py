"""Transports: thin adapters between a wire (ZMQ sockets, a JavaScript callback) and the kernel core."""

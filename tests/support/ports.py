"""Free loopback ports for the servers tests and the benchmark start (each on a port of its own,
so that several runs share a machine)."""

import socket


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now (the kernel's pick)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])

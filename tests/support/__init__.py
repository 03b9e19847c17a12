"""Process helpers shared by the tests (and the benchmark, tools/bench): real servers on loopback and
free ports; each server's module also defines the pytest fixtures around it, registered by conftests."""

"""The process-wide Redis client (identity cache, decision stream, readiness), with short timeouts so
an outage fails fast; a Redis Cluster client when REDIS_CLUSTER is set."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import redis
from django.conf import settings
from redis.backoff import NoBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.exceptions import RedisClusterException
from redis.retry import Retry

# What a call to Redis may raise when Redis (or, on a cluster, the topology: no reachable node, slots
# not covered while a failover runs) is away. RedisClusterException is not a RedisError.
REDIS_ERRORS = (redis.RedisError, RedisClusterException)

Client = redis.Redis | RedisCluster


def redis_client(url: str, *, cluster: bool = False, seeds: Sequence[str] = (), **options: Any) -> Client:
    """A client for `url`: a plain one, or with `cluster` a RedisCluster that discovers the cluster
    from that node or any of `seeds` ("host:port") and follows slot moves and failovers.

    A cluster client connects at once: raises REDIS_ERRORS when no node answers.
    """
    if not cluster:
        return redis.Redis.from_url(url, **options)
    options.pop("health_check_interval", None)  # a per-connection option a cluster client does not take
    options.setdefault("retry", Retry(NoBackoff(), 1))  # once more, at the new master after a failover
    startup_nodes = [ClusterNode(host, int(port)) for host, _colon, port in (seed.rpartition(":") for seed in seeds)]
    return RedisCluster.from_url(url, startup_nodes=startup_nodes, **options)


@lru_cache(maxsize=1)
def get_redis() -> Client:
    return redis_client(
        settings.REDIS_URL,
        cluster=settings.REDIS_CLUSTER,
        seeds=settings.REDIS_CLUSTER_NODES,
        socket_connect_timeout=0.5,
        socket_timeout=0.5,
        health_check_interval=10,
        retry_on_timeout=False,
    )


def write_replicated(client: Client, key: str, command: Sequence[Any], *, replicas: int, timeout_ms: int) -> bool:
    """Runs one write `command` on `key` and, with `replicas`, waits up to `timeout_ms` for that many
    replicas to have it (WAIT); True when they do. Raises REDIS_ERRORS.

    WAIT counts the writes of its own connection, so both go on one connection of the key's master
    in one round trip. Replication is asynchronous: a write a master acknowledged but had not sent
    to a replica is lost when that master fails and the replica takes over; one a replica has is not.
    """
    if replicas <= 0:
        client.execute_command(*command)
        return True
    node_client = client
    if isinstance(client, RedisCluster):
        node_client = client.get_redis_connection(client.get_node_from_key(key))
    pipe = node_client.pipeline(transaction=False)
    pipe.execute_command(*command)
    pipe.execute_command("WAIT", replicas, timeout_ms)
    try:
        _reply, acknowledged = pipe.execute()
    except redis.RedisError:
        if isinstance(client, RedisCluster):
            # The slot's master is gone or moved: its node client knows nothing of the cluster, so
            # read the new topology for the next call (a failed read raises here, as an outage).
            client.nodes_manager.initialize()
        raise
    return int(acknowledged) >= replicas

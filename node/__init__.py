"""The asyncio node runtime: peer transport, mempool, REST API, metrics, the node process."""

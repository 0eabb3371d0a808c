"""Local multi-node testnet: launcher, load generator, benchmark, simulator, micro-benchmarks."""

"""PBFT consensus as a pure state machine: events in, actions out. No I/O, no clock, no RNG."""

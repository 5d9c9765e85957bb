"""Journey simulator: realistic cross-channel customer journeys, published to Kafka.

Generation (`customers`, `catalogue`, `builder`, `fragments`, `kinds`,
`journeys`) is pure and deterministic for a seed; only `publisher`,
`preflight`, `summary` and `cli` deal with Kafka or the terminal.
"""

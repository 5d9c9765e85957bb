"""End-to-end benchmark: Concierge against bare Kafka baselines, open loop.

Pure parts (no I/O, unit-tested): ``schedule`` (send plan, generator lag),
``latency`` (intended-time bookkeeping in HDR histograms), ``verdict``
(sustainable rate, ratios), ``report`` (JSON and markdown), ``systems`` (what
each system under test reads, writes and is judged on).

I/O parts: ``generator`` and ``relay`` (their own processes), ``collector``,
``lag``, ``cpu``, ``launch`` (starting systems), ``ladder`` (one system's
rate ladder), ``plot``; ``bench.run`` ties them together.
"""

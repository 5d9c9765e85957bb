"""Intake's pure logic: validate, normalise and hash interactions; no Kafka, no I/O."""

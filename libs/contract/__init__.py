"""The Concierge wire contract v1 as frozen pydantic models (docs/contract/).

Import from the modules: `common` (channels, timestamps, Trigger),
`interaction` and `vocabulary`/`attributes`, `action`, `suppression`, `dlq`,
`erasure`; `codec` for bytes; `schema_export` publishes the JSON Schemas.
"""

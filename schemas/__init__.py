"""The public contract as data: JSON Schemas and the OpenAPI document."""

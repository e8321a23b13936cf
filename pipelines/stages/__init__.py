"""The pipeline stages; each module is registered by name in pipelines/registry.py."""

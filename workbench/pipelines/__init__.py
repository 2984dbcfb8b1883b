"""Pipelines: one module per job (attribution, clv, plan, ...), each a few short step functions
read top to bottom (validate and stage -> SQL -> model -> results Dataset -> write). The typed
Python API (``workbench.api``) is the façade over them; the CLI only parses options and calls the
API."""

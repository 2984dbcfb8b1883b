"""workbench: the application around the ``attribution`` and ``clv`` model packages.

File I/O and validation, the SQL engines (DuckDB, Spark), the results store, the CLI, budget
planning and report rendering live here; the model packages never import it.
"""

__version__ = "0.1.0"

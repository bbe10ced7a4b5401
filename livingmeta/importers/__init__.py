"""Importers of whole-review formats (Metapsy data standard, ...): one record per trial."""

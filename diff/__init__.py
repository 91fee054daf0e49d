"""migdiff: validate migsnap bundles and diff two hosts."""
__version__ = "0.1.0"

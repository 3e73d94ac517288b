"""Data files: reading them in constant memory, checking, converting and describing them."""

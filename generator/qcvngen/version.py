"""The generator's version, named in every generated file's header."""

__version__ = "0.1.0"

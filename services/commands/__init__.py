"""Sub-commands of `evision`: one module each, exposing `configure(parser)` and `run(args) -> int`."""

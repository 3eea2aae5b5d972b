"""One module per artefact; each exposes ``render(reg, ctx) -> dict[PurePosixPath, str]``."""

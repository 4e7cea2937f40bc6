"""Sampling defaults of the DiT, importable without torch or diffusers (the pipeline's
params read them when the studio or ``animakit pipelines`` lists it)."""
DEFAULT_STEPS = 16
DEFAULT_GUIDANCE = 6.0
DEFAULT_SHIFT = 1.0

"""Sampling defaults of the DiT, importable without torch or diffusers (the pipeline's
params read them when the studio or ``animakit pipelines`` lists it)."""
DEFAULT_STEPS = 18
DEFAULT_GUIDANCE = 6.0
DEFAULT_SHIFT = 1.0
# classifier-free guidance only while the noise level is at least this (0: every step):
# guidance late in sampling, when the shape is already laid out, rounds square corners
DEFAULT_GUIDANCE_MIN_NOISE = 0.5

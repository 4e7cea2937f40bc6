"""animakit studio: `make run` starts it on http://127.0.0.1:7860.

Every registered pipeline gets a tab built from its params dataclass (the generic layout
lives in animakit/studio/, a plugin's own additions in its pipeline's ``studio_extras``
hook), ordered by ``studio_order``; a new plugin appears here without editing this file.
"""
from animakit.studio import build_app, launch

demo = build_app()

if __name__ == "__main__":
    launch(demo)

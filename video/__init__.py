"""animakit plugin: video."""

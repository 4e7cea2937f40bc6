"""animakit plugin: portrait."""

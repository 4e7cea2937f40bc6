"""animakit plugin: editing."""

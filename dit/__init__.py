"""animakit plugin: dit."""

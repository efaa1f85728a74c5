"""The console: the `aegis` command, the main job and its supervisor — the top floor, which may import every part."""

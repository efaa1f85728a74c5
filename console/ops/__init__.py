"""Operating the whole pipeline: the supervised main job (`aegis run`) and `aegis status`."""

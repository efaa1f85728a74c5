"""Parsing helpers shared by every source: bodies (charsets, JSON, safe XML), dates and periods,
HTML to text, URLs, regions and contacts."""

"""Parsing helpers shared by every source: dates and periods, HTML to text, regions, safe XML."""

"""One module per source; each turns the source's own format into ``PolicyRecord``s."""

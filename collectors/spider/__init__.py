"""One generic Scrapy spider for local-government boards, configured per site by selectors (YAML)."""

"""Board configuration files: validation, the board boundary, canonical post URLs."""

from __future__ import annotations

from pathlib import Path

import pytest

from aegis.errors import ConfigError
from collectors.spider.config import BUNDLED_DIR, load_board, load_boards


def test_bundled_sample_boards_load_with_the_samples_url():
    boards = {b.name: b for b in load_boards("http://127.0.0.1:1234")}
    assert set(boards) == {"garam-si", "nuri-gu"}
    garam = boards["garam-si"]
    assert garam.start_url == "http://127.0.0.1:1234/boards/garam-si/notice/list.do?pageIndex=1"
    assert garam.source_system == "board:garam-si" and garam.domain == "127.0.0.1"
    url = "http://127.0.0.1:1234/boards/garam-si/notice/view.do?nttId=5012&pageIndex=2"
    assert garam.canonical(url) == "http://127.0.0.1:1234/boards/garam-si/notice/view.do?nttId=5012"
    assert garam.source_id(url) == "5012"
    assert garam.allows(url) and not garam.allows("https://www.gov.kr/portal/main")
    assert boards["nuri-gu"].source_id("http://127.0.0.1:1234/boards/nuri-gu/news/4521") == "4521"


def test_invalid_board_files_name_the_file_and_field(tmp_path: Path):
    bad = tmp_path / "bad.yaml"
    bad.write_text((BUNDLED_DIR / "nuri-gu.yaml").read_text(encoding="utf-8").replace('id_pattern: "/news/(\\\\d+)$"',
                                                                                       'id_pattern: "/news/\\\\d+$"'),
                   encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_board(bad, "http://x")
    assert "bad.yaml" in raised.value.message and "id_pattern" in raised.value.message
    with pytest.raises(ConfigError, match="does not exist"):
        load_boards("http://x", tmp_path / "missing")


def test_extra_directory_overrides_and_disables(tmp_path: Path):
    text = (BUNDLED_DIR / "garam-si.yaml").read_text(encoding="utf-8")
    (tmp_path / "garam-si.yaml").write_text(text + "enabled: false\n", encoding="utf-8")
    assert [b.name for b in load_boards("http://x", tmp_path)] == ["nuri-gu"]

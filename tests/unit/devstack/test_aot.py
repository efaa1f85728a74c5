"""The ahead-of-time cache's life (devstack/aot.py): train, keep or discard, use, go stale."""

from __future__ import annotations

import os
import time

import pytest

from devstack.aot import AotCache, cache_key
from devstack.java import java_major, java_version, newest_jdk_home


def _cache(tmp_path, key="k1", min_seconds=0.0) -> AotCache:
    return AotCache(tmp_path / "aot", key, min_seconds)


def _jvm_writes_its_cache(cache: AotCache, size=1024) -> None:
    cache.training_path.write_bytes(b"\0" * size)


def test_a_first_start_trains_and_a_clean_long_enough_stop_keeps_the_cache(tmp_path):
    cache = _cache(tmp_path)
    assert cache.flags() == [f"-XX:AOTCacheOutput={cache.training_path}"]
    _jvm_writes_its_cache(cache)
    assert cache.finish_training(stopped_cleanly=True).startswith("ahead-of-time cache kept (")
    assert cache.ready and not cache.training_path.exists()
    assert cache.flags() == [f"-XX:AOTCache={cache.path}"]
    assert cache.finish_training(stopped_cleanly=True) is None  # using a cache trains nothing


def test_a_killed_jvm_leaves_no_cache_and_the_next_start_trains_again(tmp_path):
    cache = _cache(tmp_path)
    cache.flags()
    _jvm_writes_its_cache(cache, size=10)  # partial: the stop timed out while it was written
    assert "did not stop cleanly" in cache.finish_training(stopped_cleanly=False)
    assert not cache.ready and not cache.training_path.exists()
    assert cache.flags()[0].startswith("-XX:AOTCacheOutput=")


def test_a_short_run_is_not_kept(tmp_path):
    cache = _cache(tmp_path, min_seconds=3600)
    cache.flags()
    _jvm_writes_its_cache(cache)
    assert "less than 3600s" in cache.finish_training(stopped_cleanly=True)
    assert not cache.ready


def test_a_jvm_that_wrote_nothing_is_reported(tmp_path):
    cache = _cache(tmp_path)
    cache.flags()
    assert "wrote none" in cache.finish_training(stopped_cleanly=True)


def test_a_new_key_deletes_the_caches_of_older_ones(tmp_path):
    old = _cache(tmp_path, key="old")
    old.flags()
    _jvm_writes_its_cache(old)
    old.finish_training(stopped_cleanly=True)
    new = _cache(tmp_path, key="new")
    assert new.flags()[0].startswith("-XX:AOTCacheOutput=")
    assert sorted(p.name for p in (tmp_path / "aot").iterdir()) == ["new.training.started"]


def test_the_key_follows_the_java_the_flags_and_every_jar(tmp_path):
    libs = tmp_path / "libs"
    libs.mkdir()
    (libs / "a.jar").write_bytes(b"a")
    launcher = tmp_path / "Launcher.java"
    launcher.write_text("class A {}")
    base = cache_key("25.0.2", ["-Xmx512m"], [libs], [launcher])
    assert base == cache_key("25.0.2", ["-Xmx512m"], [libs], [launcher])
    assert base != cache_key("25.0.3", ["-Xmx512m"], [libs], [launcher])
    assert base != cache_key("25.0.2", ["-Xmx1g"], [libs], [launcher])
    launcher.write_text("class B {}")
    changed_launcher = cache_key("25.0.2", ["-Xmx512m"], [libs], [launcher])
    assert changed_launcher != base
    (libs / "a.jar").write_bytes(b"a2")  # an upgraded jar
    assert cache_key("25.0.2", ["-Xmx512m"], [libs], [launcher]) != changed_launcher


def test_the_training_time_is_measured_from_the_start(tmp_path):
    cache = _cache(tmp_path, min_seconds=60)
    cache.flags()
    started = tmp_path / "aot" / "k1.training.started"
    started.write_text(f"{time.time() - 120:.0f}\n")
    _jvm_writes_its_cache(cache)
    assert "trained for 12" in cache.finish_training(stopped_cleanly=True)


@pytest.mark.parametrize("version,major", [("25.0.2", 25), ("17.0.15", 17), ("1.8.0_392", 8), ("21", 21),
                                           (None, None), ("", None), ("x.y", None)])
def test_java_major_versions(version, major):
    assert java_major(version) == major


def test_java_version_reads_the_release_file(tmp_path):
    home = tmp_path / "jdk"
    (home / "bin").mkdir(parents=True)
    java = home / "bin" / "java"
    java.write_text("#!/bin/sh\n")
    os.chmod(java, 0o755)
    assert java_version(str(java)) is None
    (home / "release").write_text('IMPLEMENTOR="x"\nJAVA_VERSION="25.0.2"\n')
    assert java_version(str(java)) == "25.0.2"


def _jdk(root, name, version, *, full=True):
    home = root / name
    (home / "bin").mkdir(parents=True)
    (home / "bin" / "java").write_text("")
    if full:
        (home / "bin" / "javac").write_text("")
    (home / "release").write_text(f'JAVA_VERSION="{version}"\n')
    return home


def test_the_newest_full_jdk_of_the_wanted_version_is_found(tmp_path):
    _jdk(tmp_path, "java-17-openjdk-amd64", "17.0.15")
    assert newest_jdk_home(25, tmp_path) is None
    _jdk(tmp_path, "jre-26", "26.0.1", full=False)  # a runtime without javac may lack locales
    older = _jdk(tmp_path, "temurin-25-jdk-amd64", "25.0.2")
    assert newest_jdk_home(25, tmp_path) == older
    newer = _jdk(tmp_path, "temurin-25.0.10-jdk", "25.0.10")
    assert newest_jdk_home(25, tmp_path) == newer
    (tmp_path / "default-java").symlink_to(newer)
    assert newest_jdk_home(25, tmp_path) == newer
    assert newest_jdk_home(25, tmp_path / "absent") is None


def test_the_servers_with_a_cache_run_on_the_newer_jdk_and_the_others_on_the_stacks(monkeypatch, tmp_path):
    from aegis.settings import load_settings
    from devstack.manager import StackManager

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AEGIS_STACK_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("AEGIS_STACK_JAVA_HOME", str(_jdk(tmp_path, "jdk-17", "17.0.15")))
    monkeypatch.setenv("AEGIS_STACK_AOT_JAVA_HOME", str(_jdk(tmp_path, "jdk-25", "25.0.3")))
    services = {s.name: s for s in StackManager(load_settings(env_file=None)).services}
    neo4j, kafka = services["neo4j"], services["kafka"]
    neo4j.dir.mkdir(parents=True)
    kafka.dir.mkdir(parents=True)
    command = neo4j.command()
    assert command[0] == str(tmp_path / "jdk-25" / "bin" / "java")
    assert "--enable-native-access=ALL-UNNAMED" in command
    assert any(flag.startswith("-XX:AOTCacheOutput=") for flag in command)  # no cache yet: this life trains one
    assert neo4j.start_detail().startswith("Java 25.0.3, training")
    assert kafka.java() == str(tmp_path / "jdk-17" / "bin" / "java")
    assert kafka.aot_cache is None and kafka.start_detail() == ""
    assert not any(flag.startswith(("-XX:AOT", "--enable-native-access")) for flag in kafka.launch_flags())

    monkeypatch.setenv("AEGIS_STACK_AOT_CACHE", "false")
    neo4j = next(s for s in StackManager(load_settings(env_file=None)).services if s.name == "neo4j")
    assert neo4j.aot_cache is None and neo4j.java() == str(tmp_path / "jdk-25" / "bin" / "java")

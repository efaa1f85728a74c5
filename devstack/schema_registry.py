"""Apicurio Registry, the schema registry of the Avro change-event profile, and the Avro converter
Kafka Connect loads — both resolved from Maven Central.

* The server is the ``apicurio-registry-app`` Quarkus application (``maven/apicurio-registry/pom.xml``
  unpacks its ``-all.tar.gz``), run with ``java -jar`` on Java 17. Storage is H2 in a file under the
  state directory, so schemas survive a restart just as the Kafka messages that reference them do.
  It listens on loopback only; ``/health/ready`` and the Confluent-compatible API
  (``/apis/ccompat/v7``) are what the probe checks.
* The converter (``maven/apicurio-converter/pom.xml``) is a Kafka Connect plugin directory. Its jar
  ships no ServiceLoader manifest, and the worker runs with ``plugin.discovery=service_load``, so
  ``install_avro_converter`` writes a one-file manifest jar beside it.

The registry is optional in the stack: ``aegis stack up`` starts it only when
``AEGIS_STACK_SCHEMA_REGISTRY=true`` or ``CHANGE_EVENTS_FORMAT=avro`` — or when it is named
(``aegis stack up schema-registry``).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import httpx

from aegis.settings import Settings, StackSettings
from devstack.jars import ensure_jars, jars_dir
from devstack.java import JavaService

REGISTRY_POM = "apicurio-registry"
CONVERTER_POM = "apicurio-converter"
APICURIO_VERSION = "2.6.13.Final"
AVRO_CONVERTER_CLASS = "io.apicurio.registry.utils.converter.AvroConverter"
_CONVERTER_PLUGIN = "apicurio-avro-converter"
_MANIFEST_JAR = "aegis-converter-service-manifest.jar"


def converter_plugin_path(stack: StackSettings) -> Path:
    """The directory to add to Kafka Connect's ``plugin.path`` (it holds the converter's plugin dir)."""
    return jars_dir(stack, CONVERTER_POM) / "connect-plugins"


def install_avro_converter(stack: StackSettings) -> Path:
    """Resolve the converter plugin (once per pom version) and give it a ServiceLoader manifest."""
    ensure_jars(stack, name=CONVERTER_POM)
    plugin = converter_plugin_path(stack) / _CONVERTER_PLUGIN
    manifest = plugin / _MANIFEST_JAR
    if not manifest.exists():
        partial = manifest.with_suffix(".tmp")
        with zipfile.ZipFile(partial, "w") as jar:
            jar.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\r\n\r\n")
            jar.writestr("META-INF/services/org.apache.kafka.connect.storage.Converter", AVRO_CONVERTER_CLASS + "\n")
        partial.replace(manifest)
    return plugin


def schema_registry_wanted(settings: Settings) -> bool:
    """Whether ``aegis stack up`` without names starts the schema registry."""
    return settings.stack.schema_registry or settings.change_events.format == "avro"


class SchemaRegistry(JavaService):
    name = "schema-registry"

    @property
    def port(self) -> int:
        return httpx.URL(self.settings.schema_registry.url).port or 8080

    def in_default_set(self) -> bool:
        return schema_registry_wanted(self.settings)

    @property
    def runner_jar(self) -> Path:
        return jars_dir(self.settings.stack, REGISTRY_POM) / "apicurio-registry" / \
            f"apicurio-registry-app-{APICURIO_VERSION}-runner.jar"

    def check_installed(self) -> None:
        self.java()
        ensure_jars(self.settings.stack, name=REGISTRY_POM)
        if not self.runner_jar.exists():
            raise self.missing(str(self.runner_jar), "run `aegis stack install --force` to resolve it again")

    def heap(self) -> str:
        return self.settings.stack.schema_registry_heap

    def jvm_flags(self) -> list[str]:
        # C1 only and the serial collector: it starts faster and the registry does little work.
        return ["-Xms64m", f"-Xmx{self.heap()}", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                "-XX:+ExitOnOutOfMemoryError", "-Djava.awt.headless=true", "-Dfile.encoding=UTF-8",
                f"-Djava.io.tmpdir={self.dir / 'tmp'}", "-Dquarkus.http.host=127.0.0.1",
                "-Dquarkus.log.console.color=false", "-Dquarkus.banner.enabled=false"]

    def prepare(self) -> None:
        super().prepare()
        (self.dir / "data").mkdir(exist_ok=True)
        (self.dir / "tmp").mkdir(exist_ok=True)

    def env(self) -> dict[str, str]:
        # The application's own variables (its application.properties reads them in the prod profile).
        env = super().env()
        env["HTTP_PORT"] = str(self.port)
        env["REGISTRY_DATASOURCE_URL"] = f"jdbc:h2:file:{self.dir / 'data' / 'registry'};DB_CLOSE_ON_EXIT=FALSE"
        return env

    def command(self) -> list[str]:
        return [self.java(), *self.launch_flags(), "-jar", str(self.runner_jar)]

    def probe(self) -> bool:
        base = f"http://127.0.0.1:{self.port}"
        try:
            ready = httpx.get(f"{base}/health/ready", timeout=2)
            if ready.status_code != 200 or ready.json().get("status") != "UP":
                return False
            return httpx.get(f"{base}/apis/ccompat/v7/subjects", timeout=2).status_code == 200
        except (httpx.HTTPError, ValueError):
            return False

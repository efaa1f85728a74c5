"""The Debezium change stream: connector config templates and their management over Kafka Connect's REST API.

* ``connectors.config``  — render ``policies-source.json`` from settings (no secrets in the file);
* ``connectors.rest``    — a small Kafka Connect REST client, errors translated to ``aegis.errors``;
* ``connectors.slot``    — the PostgreSQL side: replication slot lag, dropping slot and publication;
* ``connectors.manage``  — what people and tests call: ``apply_connector``, ``wait_until_running``,
  ``connector_status``, ``restart_connector``, ``pause_connector``, ``resume_connector``,
  ``delete_connector``.
"""

"""What only the tests, the benchmarks and the fault suite use — never a production package.

``tests/unit/test_layers.py`` enforces it: no package of the product (aegis, cdc_sinks, collectors,
connectors, reconciler, console, devstack) imports ``testkit``; ``testkit`` may import any of them.

* ``streams``: an isolated change stream (connector, slot, publication, topics of its own);
* ``namespaces``: a run's own corner of every target and its own consumer groups;
* ``policies``: policy rows (complete, minimal, sample-text seeded) and inserting them;
* ``envelopes``: change messages in Debezium's real envelope, poison messages;
* ``doubles``: in-memory stand-ins of a sink and of PostgreSQL's active view (unit tests only);
* ``checksums``: the range checksums a set of records must have (the expected side of a check);
* ``conformance``: a sink under test against the real change topic, and the convergence check;
* ``targets``: direct readers of each target's versions, ``aegis sinks run`` as a child process;
* ``load``: the realistic change mix committed at a fixed rate, and when each change became visible;
* ``machine``, ``cpu``, ``results``: the machine, CPU per process group, and ``bench/RESULTS.md`` blocks.
"""

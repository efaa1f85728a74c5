from bench.stack.pg_processes import EXITED, used


def test_cpu_is_split_by_label_and_an_exited_backend_shows_in_reaped_time():
    before = ({1: ("postmaster", 1.0), 2: ("walsender aegis_debezium", 2.0), 3: ("backend aegis", 1.0)}, 5.0)
    # backend 3 exited after 1.5 s in all (the postmaster reaped it), backend 4 started and used 0.5 s
    after = ({1: ("postmaster", 1.5), 2: ("walsender aegis_debezium", 3.25), 4: ("backend aegis", 0.5)}, 6.5)
    split = used(before, after)
    assert split["walsender aegis_debezium"] == 1.25 and split["postmaster"] == 0.5
    assert split["backend aegis"] == 0.5
    assert split[EXITED] == 0.5  # 1.5 reaped, of which 1.0 was already seen

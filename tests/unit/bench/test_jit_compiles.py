from bench.stack.jit_compiles import _seconds, summarize

MARKS = [["warm-up", 1_800_000_000.0], ["run1", 1_800_000_100.0]]  # 2027-01-15T08:00:00Z and 100 s later


def _compilation(at: str, compiler: str, method: str, duration: str) -> dict:
    cls, name = method.rsplit(".", 1)
    return {"values": {"startTime": at, "duration": duration, "compiler": compiler,
                       "method": {"type": {"name": cls.replace(".", "/")}, "name": name}}}


def test_durations_in_jfr_form_read_as_seconds():
    assert _seconds("PT0.000271814S") == 0.000271814
    assert _seconds("PT1M2.5S") == 62.5
    assert _seconds("PT0S") == 0.0


def test_a_method_compiled_by_c2_again_in_a_later_phase_counts_as_again_there_and_new_where_first():
    compilations = [
        _compilation("2027-01-15T08:00:10.000000000Z", "c2", "org.x.Bulk.parse", "PT0.5S"),
        _compilation("2027-01-15T08:00:20.000000000Z", "c1", "org.x.Bulk.parse", "PT0.01S"),
        _compilation("2027-01-15T08:01:50.000000000Z", "c2", "org.x.Bulk.parse", "PT0.75S"),
        _compilation("2027-01-15T08:01:55.000000000Z", "c2", "org.x.Search.run", "PT0.25S"),
    ]
    deoptimizations = [{"values": {"startTime": "2027-01-15T08:01:45.500Z", "reason": "class_check"}}]
    phases = summarize(compilations, deoptimizations, MARKS)
    assert phases["warm-up"].first == {"org.x.Bulk.parse": 0.5} and not phases["warm-up"].again
    assert phases["warm-up"].compilers == {"c2": 0.5, "c1": 0.01}
    assert phases["run1"].again == {"org.x.Bulk.parse": 0.75}
    assert phases["run1"].first == {"org.x.Search.run": 0.25}
    assert phases["run1"].deoptimizations == {"class_check": 1} and not phases["warm-up"].deoptimizations

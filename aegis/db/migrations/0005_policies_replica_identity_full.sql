-- 0005: the full old row in the WAL for every UPDATE and DELETE of policies.
-- With REPLICA IDENTITY DEFAULT, an UPDATE that leaves a TOASTed column (a long content or
-- raw_data) unchanged does not carry that column's value in the WAL, and Debezium sends the
-- placeholder "__debezium_unavailable_value" instead: the sinks dead-lettered every promotion
-- (status-only UPDATE) of such a row, and only the reconciler's repair brought it to the targets.
-- With FULL, Debezium takes an unchanged TOASTed value from the old row, so `after` is always whole.
ALTER TABLE policies REPLICA IDENTITY FULL;

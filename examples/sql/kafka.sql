-- lseq sql -f examples/sql/kafka.sql   (a broker on 127.0.0.1:9092: deploy/local/kafka.sh start)
-- Kafka in, Kafka out, exactly once: scores to `scores`, rejected rows to `dead-letters`, in one job.
-- Read the outputs with isolation.level=read_committed. Runs until stopped (Ctrl-C, or lseq stop on a cluster).

SET 'execution.checkpointing.interval' = '10 s';
SET 'state.backend.type' = 'rocksdb';
-- To resume from a savepoint (taken with lseq stop / flink stop):
-- SET 'execution.state-recovery.path' = 'file:///tmp/lseq-savepoints/savepoint-...';

CREATE TABLE events (
  `key` STRING,
  ts    BIGINT,
  token INT,
  id    STRING
) WITH (
  'connector' = 'kafka',
  'topic' = 'events',
  'properties.bootstrap.servers' = '127.0.0.1:9092',
  'properties.group.id' = 'lseq-sql',
  'scan.startup.mode' = 'group-offsets',
  'properties.auto.offset.reset' = 'earliest',
  'format' = 'json',
  'json.ignore-parse-errors' = 'true'  -- a line that is not JSON is skipped instead of failing the job
);

CREATE TABLE scores (
  `key` STRING,
  seq   BIGINT,
  score DOUBLE,
  ts    BIGINT,
  id    STRING
) WITH (
  'connector' = 'kafka',
  'topic' = 'scores',
  'properties.bootstrap.servers' = '127.0.0.1:9092',
  'sink.delivery-guarantee' = 'exactly-once',
  'sink.transactional-id-prefix' = 'lseq-sql-scores',
  'properties.transaction.timeout.ms' = '600000',  -- under the broker's 15 min maximum
  'format' = 'json'
);

CREATE TABLE dead_letters (
  `key` STRING,
  ts    BIGINT,
  id    STRING,
  error STRING
) WITH (
  'connector' = 'kafka',
  'topic' = 'dead-letters',
  'properties.bootstrap.servers' = '127.0.0.1:9092',
  'sink.delivery-guarantee' = 'exactly-once',
  'sink.transactional-id-prefix' = 'lseq-sql-dead',
  'properties.transaction.timeout.ms' = '600000',
  'format' = 'json'
);

CREATE TEMPORARY VIEW scored AS
SELECT * FROM LSEQ_SCORE(
  input => TABLE events PARTITION BY `key`,
  model => 'examples/models/reference-lru',
  uid   => 'lseq-score');

EXECUTE STATEMENT SET BEGIN
  INSERT INTO scores       SELECT `key`, seq, score, ts, id FROM scored WHERE error IS NULL;
  INSERT INTO dead_letters SELECT `key`, ts, id, error      FROM scored WHERE error IS NOT NULL;
END;

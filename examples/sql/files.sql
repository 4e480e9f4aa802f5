-- lseq sql -f examples/sql/files.sql   (from the repository root, after mvn -q package -DskipTests)
-- The bundled events, scored by the bundled model, into JSON part files under target/sql-scores/.
-- The same scores as: bin/lseq score --model examples/models/reference-lru --input examples/events/sample.jsonl

CREATE TABLE events (
  `key` STRING,
  ts    BIGINT,
  token INT,
  id    STRING
) WITH (
  'connector' = 'filesystem',
  'path' = 'examples/events/sample.jsonl',
  'format' = 'json'
);

CREATE TABLE scores (
  `key` STRING,
  seq   BIGINT,
  score DOUBLE,
  ts    BIGINT,
  id    STRING,
  error STRING              -- null on scores; why, on a rejected row
) WITH (
  'connector' = 'filesystem',
  'path' = 'target/sql-scores',
  'format' = 'json'
);

INSERT INTO scores
SELECT * FROM LSEQ_SCORE(
  input => TABLE events PARTITION BY `key`,
  model => 'examples/models/reference-lru',
  uid   => 'lseq-score');

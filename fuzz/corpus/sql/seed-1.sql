SET 'restart-strategy' = 'fixed-delay';
CREATE TABLE s (ts TIMESTAMP(3) WITH LOCAL TIME ZONE, f STRING METADATA FROM 'file.path' VIRTUAL, d DECIMAL(10, 2), PRIMARY KEY (d) NOT ENFORCED) PARTITIONED BY (d) WITH ('connector'='filesystem','path'='x','format'='csv');
INSERT INTO s SELECT * FROM s;
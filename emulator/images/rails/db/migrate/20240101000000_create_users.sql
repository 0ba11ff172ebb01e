-- up
CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
-- down
DROP TABLE users;

-- up
CREATE TABLE posts (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, title TEXT);
CREATE INDEX index_posts_on_user_id ON posts (user_id);
-- down
DROP TABLE posts;

-- up
-- fail: SQLite3::ConstraintException: UNIQUE constraint failed: index 'index_users_on_email'
CREATE UNIQUE INDEX index_users_on_email ON users (email);
-- down
DROP INDEX index_users_on_email;

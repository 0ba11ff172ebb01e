# Fails for real: two users share an email, so the unique index cannot be built
# (SQLite3::ConstraintException, raised as ActiveRecord::RecordNotUnique). The migration's
# transaction rolls back: neither user stays, the earlier migrations stay applied.
class AddUniqueIndexToUsers < ActiveRecord::Migration[6.1]
  def up
    execute "INSERT INTO users (name, email) VALUES ('alice', 'ops@example.com'), ('bob', 'ops@example.com')"
    add_index :users, :email, unique: true
  end

  def down
    remove_index :users, :email
  end
end

# The next release's first migration. It sleeps SLOW_MIGRATION_SECONDS (default 0) on the way up,
# after its change, inside its transaction: tests stop a runner in the middle of it.
class AddRoleToUsers < ActiveRecord::Migration[6.1]
  def change
    add_column :users, :role, :string, null: false, default: "member"
    reversible do |direction|
      direction.up { sleep Float(ENV.fetch("SLOW_MIGRATION_SECONDS", "0")) }
    end
  end
end

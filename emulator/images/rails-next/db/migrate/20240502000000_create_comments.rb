class CreateComments < ActiveRecord::Migration[6.1]
  def change
    create_table :comments do |t|
      t.integer :post_id, null: false
      t.text :body
    end
    add_index :comments, :post_id
  end
end

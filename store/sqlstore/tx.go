package sqlstore

import "database/sql"

// Tx is the transaction behind the Queries that InTx hands to its fn, and nil
// for the Store itself. It lets work kept beside the store in the same
// database (River's job rows) commit or roll back with the state change.
func (q *queries) Tx() *sql.Tx {
	tx, _ := q.x.(*sql.Tx)
	return tx
}

package jobs

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
)

// pgDriver is riverdatabasesql's driver with a listener on ListenDSN whose
// lost connection is reported as such (lossListener).
type pgDriver struct {
	*riverdatabasesql.Driver
}

func newPgDriver(db *sql.DB, listen *pgxpool.Pool) *pgDriver {
	return &pgDriver{Driver: riverdatabasesql.NewWithPgxListener(db, listen)}
}

func (d *pgDriver) GetListener(params *riverdriver.GetListenenerParams) riverdriver.Listener {
	return lossListener{Listener: d.Driver.GetListener(params)}
}

// lossListener keeps River from mistaking a lost connection for a shutdown.
// River v0.51.2's producer and leader elector, when their LISTEN fails with
// an error ending in "conn closed", return from Start without running and
// without an error: they take it for the client being stopped. But pgx says
// "conn closed" for any connection it closed before, and the listener's is
// closed when the database goes away while River starts (a LISTEN queued
// behind the notifier noticing the loss runs on it): the client then
// reported a successful start and never fetched a job again, silently,
// until the process restarted. Reworded, the error fails Start, which Run
// tries again.
type lossListener struct {
	riverdriver.Listener
}

func (l lossListener) Connect(ctx context.Context) error {
	return notShutdown(l.Listener.Connect(ctx))
}

func (l lossListener) Listen(ctx context.Context, topic string) error {
	return notShutdown(l.Listener.Listen(ctx, topic))
}

func notShutdown(err error) error {
	if err != nil && strings.HasSuffix(err.Error(), "conn closed") {
		return fmt.Errorf("%w (the connection to the database was lost)", err)
	}
	return err
}

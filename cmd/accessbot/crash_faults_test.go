package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// childEnv marks a re-executed test binary that is to run `accessbot run`.
const childEnv = "ACCESSBOT_TEST_RUN_CHILD"

// TestMain lets the crash test run the real `accessbot run` as a separate
// process it can kill: the test binary re-executes itself with childEnv
// set and runs main's code path (NewMain().Run with the process's real
// environment and signals), not a test double.
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		err := NewMain().Run(ctx, os.Args[1:])
		stop()
		if err != nil {
			fmt.Fprintln(os.Stderr, "accessbot:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// child is one `accessbot run` process, restarted after each kill; its
// output goes to a log file in the test's temp dir.
type child struct {
	t    *testing.T
	env  []string
	log  string
	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	runs int
}

func newChild(t *testing.T, env map[string]string) *child {
	c := &child{t: t, log: filepath.Join(t.TempDir(), "run.log")}
	c.env = append(os.Environ(), childEnv+"=1")
	for k, v := range env {
		c.env = append(c.env, k+"="+v)
	}
	t.Cleanup(func() { c.stop(syscall.SIGKILL) })
	return c
}

func (c *child) start() {
	c.t.Helper()
	f, err := os.OpenFile(c.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		c.t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "run")
	cmd.Env, cmd.Stdout, cmd.Stderr = c.env, f, f
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		f.Close()
		close(done)
	}()
	c.mu.Lock()
	c.cmd, c.done = cmd, done
	c.runs++
	c.mu.Unlock()
}

// stop sends sig and waits for the process to exit (SIGTERM: up to 30 s,
// then SIGKILL).
func (c *child) stop(sig syscall.Signal) {
	c.mu.Lock()
	cmd, done := c.cmd, c.done
	c.cmd = nil
	c.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

// exited reports whether the running process ended by itself.
func (c *child) exited() bool {
	c.mu.Lock()
	done := c.done
	c.mu.Unlock()
	select {
	case <-done:
		return true
	default:
		return false
	}
}

// tail is the end of the child's log, for failure messages.
func (c *child) tail() string {
	b, _ := os.ReadFile(c.log)
	if len(b) > 60000 {
		b = b[len(b)-60000:]
	}
	return string(b)
}

// outage makes the database unreachable for a while.
type outage interface {
	cut(ctx context.Context, d time.Duration) error
}

// tcpProxy stands between the child and PostgreSQL. cut closes every
// connection through it and refuses new ones for a while: the database is
// unreachable for the child, while the real server (shared with others'
// tests) is never touched.
type tcpProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	down   bool
	conns  map[net.Conn]bool
}

func newTCPProxy(t *testing.T, target string) *tcpProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{ln: ln, target: target, conns: map[net.Conn]bool{}}
	t.Cleanup(func() {
		ln.Close()
		p.closeAll()
	})
	go p.serve()
	return p
}

func (p *tcpProxy) addr() string { return p.ln.Addr().String() }

func (p *tcpProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.down {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns[c] = true
		p.mu.Unlock()
		go p.pipe(c)
	}
}

func (p *tcpProxy) pipe(c net.Conn) {
	u, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		p.drop(c)
		return
	}
	p.mu.Lock()
	if p.down {
		p.mu.Unlock()
		u.Close()
		p.drop(c)
		return
	}
	p.conns[u] = true
	p.mu.Unlock()
	go func() {
		_, _ = io.Copy(u, c)
		p.drop(u)
		p.drop(c)
	}()
	_, _ = io.Copy(c, u)
	p.drop(u)
	p.drop(c)
}

func (p *tcpProxy) drop(c net.Conn) {
	c.Close()
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

func (p *tcpProxy) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

func (p *tcpProxy) cut(ctx context.Context, d time.Duration) error {
	p.mu.Lock()
	p.down = true
	p.mu.Unlock()
	p.closeAll()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
	p.mu.Lock()
	p.down = false
	p.mu.Unlock()
	return nil
}

// sqliteLock is the nearest honest outage of a SQLite file, which has no
// network to cut: another process takes the write lock (BEGIN IMMEDIATE)
// and holds it. The child's writes wait busy_timeout (10 s) and then fail;
// shorter holds stall every write (claims, records, River's) past the lease.
type sqliteLock struct{ db *sql.DB }

func (l sqliteLock) cut(ctx context.Context, d time.Duration) error {
	conn, err := l.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return fmt.Errorf("take the write lock: %w", err)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
	_, err = conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
	return err
}

package testenv

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"
)

// TCPProxy stands between a process under test and a server (PostgreSQL,
// Redis). Cut closes every connection through it and refuses new ones for a
// while: the server is unreachable for the process, while the real server
// (shared with others' tests) is never touched.
type TCPProxy struct {
	ln      net.Listener
	target  string
	mu      sync.Mutex
	down    bool
	conns   map[net.Conn]bool
	nextID  uint64
	inspect func(id uint64, fromClient bool, chunk []byte) bool
}

// NewTCPProxy listens on a free local port and relays to target until the
// test ends.
func NewTCPProxy(t testing.TB, target string) *TCPProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &TCPProxy{ln: ln, target: target, conns: map[net.Conn]bool{}}
	t.Cleanup(func() {
		ln.Close()
		p.closeAll()
	})
	go p.serve()
	return p
}

// Addr is the proxy's host:port.
func (p *TCPProxy) Addr() string { return p.ln.Addr().String() }

// Inspect has f see every chunk read on connections opened from now on,
// before it is relayed: id numbers the connection, fromClient tells the
// direction. While f runs the chunk waits (a slow network); when f returns
// true the connection is closed instead of relaying it, as a network fault
// would close it at exactly that point of the exchange.
func (p *TCPProxy) Inspect(f func(id uint64, fromClient bool, chunk []byte) bool) {
	p.mu.Lock()
	p.inspect = f
	p.mu.Unlock()
}

func (p *TCPProxy) serve() {
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
		p.nextID++
		id, inspect := p.nextID, p.inspect
		p.mu.Unlock()
		go p.pipe(c, id, inspect)
	}
}

func (p *TCPProxy) pipe(c net.Conn, id uint64, inspect func(uint64, bool, []byte) bool) {
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
		relay(u, c, id, true, inspect)
		p.drop(u)
		p.drop(c)
	}()
	relay(c, u, id, false, inspect)
	p.drop(u)
	p.drop(c)
}

// relay copies src to dst until either fails or inspect asks for a cut.
func relay(dst, src net.Conn, id uint64, fromClient bool, inspect func(uint64, bool, []byte) bool) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if inspect != nil && inspect(id, fromClient, buf[:n]) {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *TCPProxy) drop(c net.Conn) {
	c.Close()
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

func (p *TCPProxy) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

// Cut closes every connection through the proxy and refuses new ones for d
// (or until ctx ends).
func (p *TCPProxy) Cut(ctx context.Context, d time.Duration) error {
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

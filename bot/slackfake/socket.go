package slackfake

import "net/http"

// sockets holds Socket Mode state; guarded by Server.mu.
type sockets struct{}

func (k *sockets) init() {}

func (s *Server) serveSocket(w http.ResponseWriter, r *http.Request) {
	http.Error(w, "socket mode not implemented yet", http.StatusNotImplemented)
}

// DropConnections closes every socket abruptly.
func (s *Server) DropConnections() {}

func (s *Server) stopTimers() {}

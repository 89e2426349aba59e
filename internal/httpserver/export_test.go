package httpserver

// Timeouts lets tests shorten the connection timeouts.
type Timeouts = timeouts

func SetTimeouts(s *Server, t Timeouts) { s.timeouts = t }

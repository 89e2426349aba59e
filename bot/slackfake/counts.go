package slackfake

// AckCount is how many acks the fake has received, redeliveries' acks
// included. Unlike len(Acks()) it copies nothing, so a load test can poll
// it while thousands of envelopes are in flight.
func (s *Server) AckCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.acks)
}

// CallCount is how many calls of method (all methods when "") the fake has
// answered, without copying the recorder.
func (s *Server) CallCount(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if method == "" {
		return len(s.calls)
	}
	n := 0
	for i := range s.calls {
		if s.calls[i].Method == method {
			n++
		}
	}
	return n
}

package identity

// WaitSlackIDs waits for the Slack id writes started so far.
func (r *Resolver) WaitSlackIDs() { r.idWrites.Wait() }

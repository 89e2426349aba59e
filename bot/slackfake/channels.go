package slackfake

// Channel is a conversation of a team that conversations.info answers for.
// Messages may be posted to any channel id whether or not it was added.
type Channel struct {
	ID      string
	TeamID  string
	Name    string
	Private bool
	// BotMember: the team's bot user is in the channel.
	BotMember bool
}

// AddChannel makes conversations.info know c.
func (s *Server) AddChannel(c Channel) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.channels == nil {
		s.channels = map[string]*Channel{}
	}
	s.channels[c.ID] = &c
	s.notifyLocked()
}

// conversationsInfo answers as Slack does for a bot token: a channel of
// another team, an unknown one, and a private one the bot is not in are all
// channel_not_found (a bot cannot see private channels it was not invited to).
func (s *Server) conversationsInfo(r *request) (map[string]any, *apiError) {
	c := s.channels[r.get("channel")]
	if c == nil || c.TeamID != r.team.ID || (c.Private && !c.BotMember) {
		return nil, errResp("channel_not_found")
	}
	return map[string]any{"channel": map[string]any{
		"id": c.ID, "name": c.Name, "is_channel": !c.Private, "is_group": false, "is_private": c.Private,
		"is_member": c.BotMember, "is_archived": false, "context_team_id": c.TeamID,
	}}, nil
}

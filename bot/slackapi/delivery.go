package slackapi

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/slack-go/slack"
)

// DeliveryEventType is the message metadata event_type of every post that
// carries a delivery key (Message.DeliveryKey); its event_payload is
// {"key": KEY}. FindDelivery looks for it.
const DeliveryEventType = "accessbot_delivery"

// historyPage is how many messages one conversations.history or
// conversations.replies call asks for.
const historyPage = 100

// FindDelivery looks for the bot's message tagged with delivery key in a
// conversation, posted at or after since: in channel's history, or among
// the replies of threadTS when it is set. It returns the message ts, or ""
// when no such message exists. Needs the history scope of the conversation
// type (im:history for DMs, channels:history, groups:history).
func (c *Client) FindDelivery(ctx context.Context, channelID, threadTS, key string, since time.Time) (string, error) {
	oldest := strconv.FormatFloat(float64(since.UnixMicro())/1e6, 'f', 6, 64)
	cursor := ""
	for {
		var msgs []slack.Message
		var next string
		var err error
		if threadTS == "" {
			var res *slack.GetConversationHistoryResponse
			res, err = callValue(ctx, c, "conversations.history", func(ctx context.Context) (*slack.GetConversationHistoryResponse, error) {
				return c.api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{ChannelID: channelID,
					Oldest: oldest, Inclusive: true, Limit: historyPage, Cursor: cursor, IncludeAllMetadata: true})
			})
			if res != nil {
				msgs, next = res.Messages, res.ResponseMetaData.NextCursor
			}
		} else {
			err = c.call(ctx, "conversations.replies", nil, func(ctx context.Context) error {
				var e error
				msgs, _, next, e = c.api.GetConversationRepliesContext(ctx, &slack.GetConversationRepliesParameters{ChannelID: channelID,
					Timestamp: threadTS, Oldest: oldest, Inclusive: true, Limit: historyPage, Cursor: cursor, IncludeAllMetadata: true})
				return e
			})
		}
		if err != nil {
			return "", fmt.Errorf("look for delivery %s in %s: %w", key, channelID, err)
		}
		for _, m := range msgs {
			if m.Metadata.EventType == DeliveryEventType && m.Metadata.EventPayload["key"] == key {
				return m.Timestamp, nil
			}
		}
		if next == "" {
			return "", nil
		}
		cursor = next
	}
}

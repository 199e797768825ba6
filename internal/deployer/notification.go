package deployer

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
)

// errTestEvent is parseNotification's answer to the s3:TestEvent S3 sends
// when a bucket's notifications are set up.
var errTestEvent = errors.New("s3:TestEvent")

// notification is the part of an S3 event notification the deployer
// reads.
type notification struct {
	Event   string `json:"Event"`
	Records []struct {
		EventName string `json:"eventName"`
		S3        struct {
			Object struct {
				Key string `json:"key"`
			} `json:"object"`
		} `json:"s3"`
	} `json:"Records"`
}

// parseNotification returns the object keys of the ObjectCreated records
// of an S3 event notification (keys arrive URL-encoded, spaces as '+').
func parseNotification(body string) ([]string, error) {
	var n notification
	if err := json.Unmarshal([]byte(body), &n); err != nil {
		return nil, fmt.Errorf("decode notification: %w", err)
	}
	if n.Event == "s3:TestEvent" {
		return nil, errTestEvent
	}
	if len(n.Records) == 0 {
		return nil, errors.New("decode notification: no records")
	}
	var keys []string
	for _, r := range n.Records {
		key, err := url.QueryUnescape(r.S3.Object.Key)
		if err != nil {
			return nil, fmt.Errorf("decode notification key %q: %w", r.S3.Object.Key, err)
		}
		keys = append(keys, key)
	}
	return keys, nil
}

package deployer

import (
	"errors"
	"slices"
	"testing"
)

func TestParseNotification(t *testing.T) {
	tests := []struct {
		name, body string
		want       []string
		err        error
	}{
		{"a put of a submission gives its key", `{"Records":[{"eventName":"ObjectCreated:Put","s3":{"object":{"key":"submissions/20261123-120000-9f86d081.json"}}}]}`,
			[]string{"submissions/20261123-120000-9f86d081.json"}, nil},
		{"keys arrive URL-encoded", `{"Records":[{"s3":{"object":{"key":"submissions/a+b%2Bc.json"}}}]}`, []string{"submissions/a b+c.json"}, nil},
		{"the test event is told apart", `{"Service":"Amazon S3","Event":"s3:TestEvent","Bucket":"b"}`, nil, errTestEvent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseNotification(tt.body)
			if !errors.Is(err, tt.err) || !slices.Equal(got, tt.want) {
				t.Errorf("got %q, %v; want %q, %v", got, err, tt.want, tt.err)
			}
		})
	}
	for _, body := range []string{"", "{", `{"Records":[]}`, `{"Records":[{"s3":{"object":{"key":"%zz"}}}]}`} {
		if _, err := parseNotification(body); err == nil {
			t.Errorf("parseNotification(%q) = nil error", body)
		}
	}
}

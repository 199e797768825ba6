package cli

import (
	"bytes"
	"path/filepath"
	"testing"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/access"
)

// TestAccessListMatchesItsGoldenFile renders `access list` (with its
// history) for a two-region orbit: a key and a scope in one region only
// are named so.
func TestAccessListMatchesItsGoldenFile(t *testing.T) {
	both, east := []string{"us-east-1", "eu-west-1"}, []string{"us-east-1"}
	by := "arn:aws:iam::123456789012:user/alice"
	users := []access.User{
		{Name: "alice", UpdatedBy: by, UpdatedAt: at(1, 0),
			Keys:   []access.ListedKey{{Fingerprint: "SHA256:p1Tn4wB5bT2R0Q6u4kq3XnYJmJ2t1fWcQ5h2ZxkQz0E", Type: "ssh-ed25519", Comment: "alice@laptop", Regions: both}},
			Scopes: []access.ListedItem{{Item: elevator.AgentOperators, Scope: "operators (every host)", Regions: both}},
			History: []access.Entry{
				{At: at(1, 0), By: by, Action: access.ActionAddKey, User: "alice", Key: "SHA256:p1Tn4wB5bT2R0Q6u4kq3XnYJmJ2t1fWcQ5h2ZxkQz0E"},
				{At: at(1, 0), By: by, Action: access.ActionGrant, User: "alice", Scope: elevator.AgentOperators},
			}},
		{Name: "bob", UpdatedBy: by, UpdatedAt: at(2, 30),
			Keys:   []access.ListedKey{{Fingerprint: "SHA256:9nV0c3b8yq2gkGxq1m0tS8oQwzL7a5uQjKp3cF2dR4s", Type: "ssh-rsa", Comment: "bob@work", Regions: east}},
			Scopes: []access.ListedItem{{Item: "shop", Scope: "app shop", Regions: both}, {Item: "shop/web", Scope: "service shop/web", Regions: east}}},
		{Name: "carol", Keys: []access.ListedKey{}, Scopes: []access.ListedItem{{Item: elevator.AgentSpacelOperators, Scope: "operators (every host)", Regions: both}}},
	}
	orbit := &elevator.Orbit{Name: "production", Regions: []elevator.Region{{Name: "us-east-1"}, {Name: "eu-west-1"}}}
	var got bytes.Buffer
	printAccessList(&got, orbit, "", users)
	requireGolden(t, filepath.Join("testdata", "access", "list.golden"), got.Bytes())
}

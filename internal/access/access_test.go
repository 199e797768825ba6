package access

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"fmt"
	"strings"
	"testing"
	"time"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/aws/dynamodb"
	"golang.org/x/crypto/ssh"
)

func edKey(t *testing.T, comment string) (string, ed25519.PrivateKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, _ := ssh.NewPublicKey(pub)
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k))) + " " + comment, priv
}

func TestParseKeysTakesPublicKeysAndRefusesTheRest(t *testing.T) {
	good, priv := edKey(t, "alice@laptop")
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	smallPub, _ := ssh.NewPublicKey(&small.PublicKey)
	tests := []struct {
		name, file string
		want       string // in the error; "" for none
	}{
		{"a key with comment lines and blank lines", "# alice\n\n" + good + "\n", ""},
		{"the same key twice", good + "\n" + good + "\n", ""},
		{"a private key", string(pem.EncodeToMemory(block)), "this is a private key"},
		{"a line of a private key", "-----BEGIN OPENSSH PRIVATE KEY-----\n", "this is a private key"},
		{"a truncated key", good[:30] + "\n", "k:1: not an OpenSSH public key"},
		{"a key with options", `from="10.0.0.0/8" ` + good, "options before the key"},
		{"an RSA key of 1024 bits", strings.TrimSpace(string(ssh.MarshalAuthorizedKey(smallPub))), "an RSA key of 1024 bits"},
		{"nothing but comments", "# nothing\n", "no public key in the file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keys, err := ParseKeys("k", []byte(tt.file))
			if tt.want == "" {
				if err != nil || len(keys) != 1 || keys[0].Line != good || keys[0].Comment != "alice@laptop" || !strings.HasPrefix(keys[0].Fingerprint, "SHA256:") {
					t.Errorf("keys %+v, error %v", keys, err)
				}
				return
			}
			if elevator.ErrorCode(err) != elevator.EINVALID || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want EINVALID with %q", err, tt.want)
			}
		})
	}
}

// memory is an Items that keeps items in memory and honours conditions on
// the revision, as DynamoDB does.
type memory struct {
	tables map[string]map[string]dynamodb.Item
	puts   int
}

func (m *memory) GetItem(_ context.Context, table string, key dynamodb.Item) (dynamodb.Item, error) {
	it, ok := m.tables[table][key["name"].(string)]
	if !ok {
		return nil, elevator.Errorf(elevator.ENOTFOUND, "item: %w", dynamodb.ErrNotFound)
	}
	return it, nil
}

func (m *memory) PutItem(_ context.Context, table string, item dynamodb.Item, _ ...dynamodb.Condition) error {
	if m.tables[table] == nil {
		m.tables[table] = map[string]dynamodb.Item{}
	}
	m.tables[table][item["name"].(string)] = item
	m.puts++
	return nil
}

func (m *memory) Scan(_ context.Context, table string, _ dynamodb.ScanInput) ([]dynamodb.Item, error) {
	var out []dynamodb.Item
	for _, it := range m.tables[table] {
		out = append(out, it)
	}
	return out, nil
}

func TestAnItemKeepsItsLastFiftyChanges(t *testing.T) {
	m := &memory{tables: map[string]map[string]dynamodb.Item{}}
	tables := Tables{Orbit: "prod", Regions: []Region{{Name: "us-east-1", Items: m}}}
	at := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	for i := range 30 {
		for _, grant := range []bool{true, false} {
			if _, err := tables.Apply(context.Background(), Change{User: "alice", Grant: grant, Scope: &Scope{App: "shop"}, By: fmt.Sprint("arn:", i), At: at.Add(time.Duration(i) * time.Minute)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	user := m.tables[elevator.UsersTableName("prod")]["alice"]
	h := history(user)
	if len(h) != HistoryLimit || h[len(h)-1].Action != ActionRevoke || h[len(h)-1].By != "arn:29" || h[0].By != "arn:5" {
		t.Errorf("%d entries, last %+v, first %+v", len(h), h[len(h)-1], h[0])
	}
	if user["revision"] != int64(60) || user["updated_by"] != "arn:29" {
		t.Errorf("revision %v by %v", user["revision"], user["updated_by"])
	}
	if _, ok := m.tables[elevator.ServicesTableName("prod")]["shop"]["admins"]; ok {
		t.Errorf("shop still has admins after the last revoke: %v", m.tables[elevator.ServicesTableName("prod")]["shop"])
	}
	before := m.puts
	if res, err := tables.Apply(context.Background(), Change{User: "alice", Scope: &Scope{App: "shop"}, By: "arn:x", At: at}); err != nil || len(res[0].Changes) != 0 || m.puts != before {
		t.Errorf("revoking what is not granted wrote %d items: %+v %v", m.puts-before, res, err)
	}
}

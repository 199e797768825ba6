package cli_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"encoding/pem"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"golang.org/x/crypto/ssh"

	domain "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/cli"
	"github.com/elevatorhq/elevator/internal/emulator/emulatortest"
)

// publicKey makes a new ed25519 key pair and returns the public key's
// authorized_keys line (with comment) and its SHA256 fingerprint.
func publicKey(t *testing.T, comment string) (line, fingerprint string, private ed25519.PrivateKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k))) + " " + comment, ssh.FingerprintSHA256(k), priv
}

// writeFile writes body into a file of the test's temp dir.
func writeFile(t *testing.T, name, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// sshItems reads every item of an SSH table in a region with the SDK.
func sshItems(t *testing.T, acct *emulatortest.Account, region, table string) map[string]map[string]ddbtypes.AttributeValue {
	t.Helper()
	out, err := dynamodb.NewFromConfig(acct.Config(region)).Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatal(err)
	}
	items := map[string]map[string]ddbtypes.AttributeValue{}
	for _, it := range out.Items {
		items[it["name"].(*ddbtypes.AttributeValueMemberS).Value] = it
	}
	return items
}

func ss(it map[string]ddbtypes.AttributeValue, attr string) []string {
	v, ok := it[attr].(*ddbtypes.AttributeValueMemberSS)
	if !ok {
		return nil
	}
	out := slices.Clone(v.Value)
	slices.Sort(out)
	return out
}

func str(it map[string]ddbtypes.AttributeValue, attr string) string {
	switch v := it[attr].(type) {
	case *ddbtypes.AttributeValueMemberS:
		return v.Value
	case *ddbtypes.AttributeValueMemberN:
		return v.Value
	}
	return ""
}

func historyOf(it map[string]ddbtypes.AttributeValue) []string {
	l, _ := it["history"].(*ddbtypes.AttributeValueMemberL)
	if l == nil {
		return nil
	}
	var out []string
	for _, e := range l.Value {
		m := e.(*ddbtypes.AttributeValueMemberM).Value
		out = append(out, str(m, "action")+" "+str(m, "scope")+str(m, "key"))
	}
	return out
}

var accessRegions = []string{"us-east-1", "eu-west-1"}

// TestAccessGrantRevokeAndListInEveryRegion grants, lists and revokes,
// reading both SSH tables back with the SDK in every region of the orbit.
func TestAccessGrantRevokeAndListInEveryRegion(t *testing.T) {
	acct, orbit, flags := releasable(t)
	o := []string{"--orbit", orbit, "--orbit-file", flags[5]}
	users, services := domain.UsersTableName(orbit), domain.ServicesTableName(orbit)
	alice1, alice1FP, _ := publicKey(t, "alice@laptop")
	alice2, alice2FP, _ := publicKey(t, "alice@desktop")
	bob, bobFP, _ := publicKey(t, "bob@work")
	aliceFile := writeFile(t, "alice.pub", "# alice's keys\n"+alice1+"\n\n"+alice2+"\n")
	bobFile := writeFile(t, "bob.pub", bob+"\n")

	mustSucceed(t, elevator(t, "", append([]string{"access", "grant", "--user", "alice", "--key", aliceFile}, o...)...))
	mustSucceed(t, elevator(t, "", append([]string{"access", "grant", "--user", "bob", "--key", bobFile, "--app", "shop", "--service", "web"}, o...)...))
	again := elevator(t, "", append([]string{"access", "grant", "--user", "alice", "--key", aliceFile}, o...)...)
	mustSucceed(t, again)
	if !strings.Contains(again.stdout, "nothing to grant") {
		t.Errorf("a second grant changed something:\n%s", again.stdout)
	}
	for _, region := range accessRegions {
		u := sshItems(t, acct, region, users)
		s := sshItems(t, acct, region, services)
		if got := ss(u["alice"], "keys"); !slices.Equal(got, sorted(alice1, alice2)) {
			t.Errorf("%s: alice's keys %q", region, got)
		}
		if got := ss(u["bob"], "keys"); !slices.Equal(got, []string{bob}) {
			t.Errorf("%s: bob's keys %q", region, got)
		}
		if got := ss(s[domain.AgentOperators], "admins"); !slices.Equal(got, []string{"alice"}) {
			t.Errorf("%s: operators %q", region, got)
		}
		if got := ss(s["shop/web"], "admins"); !slices.Equal(got, []string{"bob"}) {
			t.Errorf("%s: shop/web admins %q", region, got)
		}
		for _, it := range []map[string]ddbtypes.AttributeValue{u["alice"], u["bob"], s[domain.AgentOperators], s["shop/web"]} {
			if !strings.HasPrefix(str(it, "updated_by"), "arn:aws:") || str(it, "updated_at") == "" || str(it, "revision") != "1" {
				t.Errorf("%s: item %s is not audited: by %q at %q revision %q", region, str(it, "name"), str(it, "updated_by"), str(it, "updated_at"), str(it, "revision"))
			}
		}
		if got := historyOf(u["alice"]); !slices.Equal(got, []string{"add-key " + alice1FP, "add-key " + alice2FP, "grant " + domain.AgentOperators}) {
			t.Errorf("%s: alice's history %q", region, got)
		}
	}

	// A user spacel made an operator, by hand, in both regions.
	for _, region := range accessRegions {
		_, err := dynamodb.NewFromConfig(acct.Config(region)).PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(services), Item: map[string]ddbtypes.AttributeValue{
			"name": &ddbtypes.AttributeValueMemberS{Value: domain.AgentSpacelOperators}, "admins": &ddbtypes.AttributeValueMemberSS{Value: []string{"carol"}},
		}})
		if err != nil {
			t.Fatal(err)
		}
	}
	list := elevator(t, "", append([]string{"access", "list", "-o", "json"}, o...)...)
	mustSucceed(t, list)
	requireJSONGolden(t, filepath.Join("testdata", "access", "list.json.golden"), list.stdout, map[string]string{
		orbit: "ORBIT", acct.ID: "123456789012", alice1FP: "ALICE-LAPTOP", alice2FP: "ALICE-DESKTOP", bobFP: "BOB",
	})
	text := elevator(t, "", append([]string{"access", "list"}, o...)...)
	mustSucceed(t, text)
	for _, want := range []string{"alice  (changed ", "  key    " + alice1FP + "  ssh-ed25519  alice@laptop", "  scope  operators (every host)", "  scope  service shop/web", "carol\n  key    none"} {
		if !strings.Contains(text.stdout, want) {
			t.Errorf("access list lacks %q:\n%s", want, text.stdout)
		}
	}

	mustSucceed(t, elevator(t, "", append([]string{"access", "revoke", "--user", "alice", "--key", writeFile(t, "old.pub", alice2)}, o...)...))
	mustSucceed(t, elevator(t, "", append([]string{"access", "revoke", "--user", "carol"}, o...)...))
	mustSucceed(t, elevator(t, "", append([]string{"access", "revoke", "--user", "bob", "--all"}, o...)...))
	for _, region := range accessRegions {
		u := sshItems(t, acct, region, users)
		s := sshItems(t, acct, region, services)
		if got := ss(u["alice"], "keys"); !slices.Equal(got, []string{alice1}) {
			t.Errorf("%s: alice's keys after revoking one: %q", region, got)
		}
		if got := ss(s[domain.AgentOperators], "admins"); !slices.Equal(got, []string{"alice"}) {
			t.Errorf("%s: operators after revoking a key: %q", region, got)
		}
		if got := ss(s[domain.AgentSpacelOperators], "admins"); got != nil {
			t.Errorf("%s: spacel's operators after revoking carol: %q", region, got)
		}
		if got := ss(s["shop/web"], "admins"); got != nil {
			t.Errorf("%s: shop/web admins after revoking bob everywhere: %q", region, got)
		}
		if keys := ss(u["bob"], "keys"); keys != nil {
			t.Errorf("%s: bob after --all: keys %q", region, keys)
		}
		if got := historyOf(u["bob"]); len(got) != 4 || got[2] != "remove-key "+bobFP || got[3] != "revoke shop/web" {
			t.Errorf("%s: bob's history %q", region, got)
		}
	}
	keyless := elevator(t, "", append([]string{"access", "grant", "--user", "erin", "--app", "shop"}, o...)...)
	mustSucceed(t, keyless)
	if !strings.Contains(keyless.stdout, "us-east-1  erin granted app shop\n") || !strings.Contains(keyless.stdout, "eu-west-1  erin has no key there") {
		t.Errorf("a grant without a key does not say the user cannot log in:\n%s", keyless.stdout)
	}
	hist := elevator(t, "", append([]string{"access", "list", "--user", "bob", "--history"}, o...)...)
	mustSucceed(t, hist)
	for _, want := range []string{"bob granted service shop/web  by arn:aws:", "bob key " + bobFP + " removed", "bob revoked from service shop/web", "scope  none"} {
		if !strings.Contains(hist.stdout, want) {
			t.Errorf("access list --history lacks %q:\n%s", want, hist.stdout)
		}
	}
}

// TestAccessGrantRefusesBadInputAndWritesNothing gives grant every kind of
// bad input and checks that each is refused with exit 2, saying what is
// wrong, and that neither table changed in any region.
func TestAccessGrantRefusesBadInputAndWritesNothing(t *testing.T) {
	acct, orbit, flags := releasable(t)
	o := []string{"--orbit", orbit, "--orbit-file", flags[5]}
	good, _, priv := publicKey(t, "dave@laptop")
	goodFile := writeFile(t, "dave.pub", good+"\n")
	mustSucceed(t, elevator(t, "", append([]string{"access", "grant", "--user", "dave", "--key", goodFile, "--app", "shop"}, o...)...))
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	snapshot := func() string {
		var b strings.Builder
		for _, region := range accessRegions {
			for _, table := range []string{domain.UsersTableName(orbit), domain.ServicesTableName(orbit)} {
				items, _ := json.Marshal(sshItems(t, acct, region, table))
				b.Write(items)
			}
		}
		return b.String()
	}
	before := snapshot()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"a key that is not base64", []string{"--user", "erin", "--key", writeFile(t, "bad.pub", good+"\nssh-ed25519 not-base64!! erin\n")}, "bad.pub:2: not an OpenSSH public key"},
		{"a private key", []string{"--user", "erin", "--key", writeFile(t, "id_ed25519", string(pem.EncodeToMemory(block)))}, "this is a private key"},
		{"an empty key file", []string{"--user", "erin", "--key", writeFile(t, "empty.pub", "# nothing\n")}, "no public key in the file"},
		{"a key with options", []string{"--user", "erin", "--key", writeFile(t, "opt.pub", `command="/bin/true" `+good+"\n")}, "options before the key"},
		{"a key file that does not exist", []string{"--user", "erin", "--key", "/nonexistent/erin.pub"}, "--key /nonexistent/erin.pub"},
		{"a user name with capitals", []string{"--user", "Erin", "--key", goodFile}, `--user: user name "Erin": want a Linux user name`},
		{"a user name with a slash", []string{"--user", "../root", "--key", goodFile}, "want a Linux user name"},
		{"a user name of 33 characters", []string{"--user", strings.Repeat("e", 33), "--key", goodFile}, "1 to 32"},
		{"no user", []string{"--key", goodFile}, "--user is required"},
		{"an app that is not up in the orbit", []string{"--user", "erin", "--key", goodFile, "--app", "cart"}, "--app cart: orbit " + orbit + " has no app cart"},
		{"a service the app does not have", []string{"--user", "erin", "--key", goodFile, "--app", "shop", "--service", "api"}, "--service api: app shop in orbit " + orbit + " has no service api"},
		{"a service without an app", []string{"--user", "erin", "--service", "web"}, "--service web needs --app"},
		{"an app name that is no name", []string{"--user", "erin", "--app", "Shop!"}, `--app "Shop!"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := elevator(t, "", append(append([]string{"access", "grant", "-o", "json"}, tt.args...), o...)...)
			var doc struct {
				Error struct{ Code, Message string }
			}
			_ = json.Unmarshal([]byte(r.stdout), &doc)
			if r.code != cli.ExitInvalid || !strings.Contains(doc.Error.Message, tt.want) {
				t.Errorf("exit %d, error %+v; want exit 2 and a message with %q\n%s", r.code, doc.Error, tt.want, r.stderr)
			}
			if after := snapshot(); after != before {
				t.Errorf("the SSH tables changed:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
}

func sorted(s ...string) []string { slices.Sort(s); return s }

// requireJSONGolden compares a JSON document, with the values of replace
// (an account, a random name) replaced and times and revisions masked, to
// a golden file; -update rewrites the file.
func requireJSONGolden(t *testing.T, path, got string, replace map[string]string) {
	t.Helper()
	for from, to := range replace {
		got = strings.ReplaceAll(got, from, to)
	}
	got = timestamp.ReplaceAllString(got, `"TIME"`)
	got = strings.ReplaceAll(got, "arn:aws:iam::123456789012:user/"+userOf(got), "arn:aws:iam::123456789012:user/USER")
	if f := flag.Lookup("update"); f != nil && f.Value.String() == "true" {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (rerun with -update to write it)", err)
	}
	if !bytes.Equal([]byte(got), want) {
		t.Errorf("output differs from %s (rerun with -update if the change is intended)\n--- got:\n%s\n--- want:\n%s", path, got, want)
	}
}

var (
	timestamp = regexp.MustCompile(`"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z"`)
	arnUser   = regexp.MustCompile(`arn:aws:iam::123456789012:user/([A-Za-z0-9+=,.@_-]+)`)
)

// userOf returns the IAM user name in the first ARN of s.
func userOf(s string) string {
	if m := arnUser.FindStringSubmatch(s); m != nil {
		return m[1]
	}
	return "\x00"
}

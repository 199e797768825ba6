package agent

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/emulator/emulatortest"
)

func TestMain(m *testing.M) { emulatortest.Main(m) }

const testRegion = "eu-west-1"

// fakeRunner records the commands the agent would run, runs none, and
// answers LookPath from a set of executables it pretends are installed.
type fakeRunner struct {
	mu        sync.Mutex
	commands  []Command
	installed map[string]bool
	fail      map[string]error // by command name
}

func (r *fakeRunner) Run(_ context.Context, c Command) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.commands = append(r.commands, c)
	return r.fail[c.Name]
}

func (r *fakeRunner) LookPath(name string) (string, error) {
	if r.installed[name] {
		return "/usr/bin/" + name, nil
	}
	return "", fmt.Errorf("%s: not found", name)
}

// lines returns the commands run, as command lines.
func (r *fakeRunner) lines() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, len(r.commands))
	for i, c := range r.commands {
		out[i] = c.String()
	}
	return out
}

// testAgent is an agent rooted in a temporary directory, with a fake
// runner and its log in a buffer.
func testAgent(t testing.TB, cl *Clients) (*Agent, *fakeRunner, *bytes.Buffer) {
	t.Helper()
	run := &fakeRunner{installed: map[string]bool{}, fail: map[string]error{}}
	var log bytes.Buffer
	a := &Agent{
		Paths:      Paths{Root: t.TempDir()},
		Runner:     run,
		Log:        slog.New(slog.NewTextHandler(&log, nil)),
		Stdout:     io.Discard,
		Stderr:     io.Discard,
		InstanceID: "i-0123456789abcdef0",
		Clients:    func(context.Context, *elevator.AgentConfig) (*Clients, error) { return cl, nil },
	}
	return a, run, &log
}

// writeFile writes a file under the agent's root.
func writeFile(t testing.TB, a *Agent, abs, content string) {
	t.Helper()
	path := a.Paths.Path(abs)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// sshTables makes an orbit's users and services tables in moto, hash key
// name (S), and returns a config naming them.
func sshTables(t testing.TB, cfg aws.Config, orbit string) *elevator.AgentConfig {
	t.Helper()
	api := ddb.NewFromConfig(cfg)
	for _, table := range []string{orbit + "-users", orbit + "-services"} {
		_, err := api.CreateTable(context.Background(), &ddb.CreateTableInput{
			TableName:            aws.String(table),
			AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("name"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
			KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("name"), KeyType: ddbtypes.KeyTypeHash}},
			BillingMode:          ddbtypes.BillingModePayPerRequest,
		})
		if err != nil {
			t.Fatalf("create table %s: %v", table, err)
		}
	}
	return &elevator.AgentConfig{Mode: elevator.AgentModeService, Orbit: orbit, Region: cfg.Region,
		App: "shop", Service: "web", UsersTable: orbit + "-users", ServicesTable: orbit + "-services"}
}

// putUser stores a user's keys in the users table.
func putUser(t testing.TB, cfg aws.Config, table, name string, keys ...string) {
	t.Helper()
	_, err := ddb.NewFromConfig(cfg).PutItem(context.Background(), &ddb.PutItemInput{TableName: aws.String(table), Item: map[string]ddbtypes.AttributeValue{
		"name": &ddbtypes.AttributeValueMemberS{Value: name},
		"keys": &ddbtypes.AttributeValueMemberSS{Value: keys},
	}})
	if err != nil {
		t.Fatalf("put user %s: %v", name, err)
	}
}

// putAdmins sets the admins of a services item; none deletes the item.
func putAdmins(t testing.TB, cfg aws.Config, table, item string, admins ...string) {
	t.Helper()
	api := ddb.NewFromConfig(cfg)
	key := map[string]ddbtypes.AttributeValue{"name": &ddbtypes.AttributeValueMemberS{Value: item}}
	var err error
	if len(admins) == 0 {
		_, err = api.DeleteItem(context.Background(), &ddb.DeleteItemInput{TableName: aws.String(table), Key: key})
	} else {
		key["admins"] = &ddbtypes.AttributeValueMemberSS{Value: admins}
		_, err = api.PutItem(context.Background(), &ddb.PutItemInput{TableName: aws.String(table), Item: key})
	}
	if err != nil {
		t.Fatalf("put admins of %s: %v", item, err)
	}
}

func hasLine(lines []string, want string) bool {
	for _, l := range lines {
		if l == want {
			return true
		}
	}
	return false
}

func containsAny(s string, subs ...string) string {
	for _, sub := range subs {
		if sub != "" && strings.Contains(s, sub) {
			return sub
		}
	}
	return ""
}

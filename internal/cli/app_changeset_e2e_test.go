package cli_test

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/elevatorhq/elevator/internal/cli"
)

// TestAppUpRunsAReviewedChangeSetAndRefusesAStaleOne: `app plan --keep`
// leaves its change set for review and prints its id; `app up
// --change-set` runs exactly that one, and refuses one whose stack
// changed since it was made (moto would execute it: the refusal is
// Elevator's own check), one that ran already, and bad ids before any
// call.
func TestAppUpRunsAReviewedChangeSetAndRefusesAStaleOne(t *testing.T) {
	acct, orbitName, flags := releasableIn(t, "regions:\n  us-east-1: {}\nnetwork: {nat: none}\n")
	appFile := flags[1]
	addTables := func(tables ...string) {
		body := releaseApp + "data:\n  tables:\n"
		for _, tb := range tables {
			body += "    " + tb + ": {hash_key: {name: id, type: S}}\n"
		}
		if err := os.WriteFile(appFile, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	keep := func() string {
		t.Helper()
		r := elevator(t, "", append([]string{"app", "plan", "--keep", "--output", "json"}, flags...)...)
		mustSucceed(t, r)
		var out struct {
			Plans []struct {
				ChangeSetID string `json:"change_set_id"`
			} `json:"plans"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || len(out.Plans) != 1 || out.Plans[0].ChangeSetID == "" {
			t.Fatalf("plan --keep: %v\n%s", err, r.stdout)
		}
		return out.Plans[0].ChangeSetID
	}
	tableIn := func(table string) bool {
		_, err := dynamodb.NewFromConfig(acct.Config("us-east-1")).DescribeTable(context.Background(), &dynamodb.DescribeTableInput{TableName: aws.String("shop-" + table + "-" + orbitName)})
		return err == nil
	}
	up := func(id string, more ...string) result {
		return elevator(t, "", append(append([]string{"app", "up", "--change-set", id}, more...), flags...)...)
	}

	addTables("orders")
	first := keep()
	text := elevator(t, "", append([]string{"app", "plan", "--keep"}, flags...)...)
	mustSucceed(t, text)
	if !strings.Contains(text.stdout, "change set kept: arn:aws:cloudformation:us-east-1:") || !strings.Contains(text.stdout, "--change-set ") {
		t.Errorf("plan --keep does not print the change set:\n%s", text.stdout)
	}
	addTables("orders", "audit")
	second := keep()
	if tableIn("orders") {
		t.Fatal("planning changed the stack")
	}

	r := up(second, "--output", "json")
	mustSucceed(t, r)
	if !tableIn("orders") || !tableIn("audit") || !strings.Contains(r.stdout, `"change_set": "`+second+`"`) {
		t.Fatalf("app up --change-set did not run it:\n%s", r.stdout)
	}
	if r := up(first); r.code != cli.ExitConflict || !strings.Contains(r.stdout+r.stderr, "after the change set was made") {
		t.Errorf("a change set older than the stack's last update: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := up(second); r.code != cli.ExitConflict || !strings.Contains(r.stdout+r.stderr, "was executed already") {
		t.Errorf("a change set that ran: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// By name, with its region.
	addTables("orders", "audit", "misc")
	name := strings.Split(keep(), "/")[1]
	if r := up(name, "--region", "us-east-1"); r.code != 0 || !tableIn("misc") {
		t.Errorf("app up --change-set %s --region us-east-1: exit %d\n%s%s", name, r.code, r.stdout, r.stderr)
	}
	for _, c := range []struct{ id, says string }{
		{"my-change-set", "a change set's name needs --region"},
		{"arn:aws:s3:::bucket", "not a change set ARN"},
		{"arn:aws:cloudformation:eu-west-3:123456789012:changeSet/x/y", "orbit " + orbitName + " is not (its regions are us-east-1)"},
	} {
		if r := up(c.id); r.code != cli.ExitInvalid || !strings.Contains(r.stdout+r.stderr, c.says) {
			t.Errorf("--change-set %s: exit %d\n%s%s", c.id, r.code, r.stdout, r.stderr)
		}
	}
}

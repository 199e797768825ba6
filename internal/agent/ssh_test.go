package agent

import (
	"context"
	"os"
	"reflect"
	"strings"
	"testing"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/aws/dynamodb"
	"github.com/elevatorhq/elevator/internal/emulator/emulatortest"
)

const (
	aliceKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAlice alice@laptop"
	bobKey   = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBob bob@laptop"
	opsKey   = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOps ops@laptop"
)

func TestAuthorizedKeysAnswersFromTheOrbitsTables(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	awsCfg := emulatortest.Config(t, testRegion)
	shop := sshTables(t, awsCfg, "prod")
	tables := dynamodb.New(awsCfg)
	users, services := shop.UsersTable, shop.ServicesTable
	putUser(t, awsCfg, users, "alice", aliceKey)
	putUser(t, awsCfg, users, "bob", bobKey)
	putUser(t, awsCfg, users, "ops", opsKey)
	putUser(t, awsCfg, users, "nobody", "ssh-ed25519 AAAAnobody")
	putAdmins(t, awsCfg, services, "shop", "alice")
	putAdmins(t, awsCfg, services, "shop/worker", "bob")

	cart := *shop
	cart.App, cart.Service = "cart", "web"
	bastion := *shop
	bastion.Mode, bastion.App, bastion.Service = elevator.AgentModeBastion, "", ""

	keys := func(cfg *elevator.AgentConfig, user string) []string {
		t.Helper()
		ks, err := AuthorizedKeys(ctx, cfg, tables, user)
		if err != nil {
			t.Fatalf("AuthorizedKeys(%s): %v", user, err)
		}
		return ks
	}
	expect := func(what string, got []string, want ...string) {
		t.Helper()
		if len(want) == 0 && len(got) == 0 {
			return
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: keys %q, want %q", what, got, want)
		}
	}

	expect("alice, admin of app shop, on shop/web", keys(shop, "alice"), aliceKey)
	expect("alice, granted only app shop, on cart/web", keys(&cart, "alice"))
	expect("bob, admin of shop/worker only, on shop/web", keys(shop, "bob"))
	expect("a user in no admins list", keys(shop, "nobody"))
	expect("an unknown user", keys(shop, "mallory"))
	expect("a name that is no Linux user name", keys(shop, "Robert'); DROP"))

	putAdmins(t, awsCfg, services, elevator.AgentOperators, "ops")
	expect("an operator on shop/web", keys(shop, "ops"), opsKey)
	expect("an operator on cart/web", keys(&cart, "ops"), opsKey)
	putAdmins(t, awsCfg, services, elevator.AgentOperators)
	putAdmins(t, awsCfg, services, elevator.AgentSpacelOperators, "ops")
	expect("a Spacel operator on cart/web", keys(&cart, "ops"), opsKey)

	expect("the bastion lets alice (granted shop) through", keys(&bastion, "alice"), aliceKey)
	expect("the bastion lets bob (granted shop/worker) through", keys(&bastion, "bob"), bobKey)
	expect("the bastion lets an operator through", keys(&bastion, "ops"), opsKey)
	expect("the bastion stops a user granted nowhere", keys(&bastion, "nobody"))

	// Revoking takes effect at the next call: no cache, no redeploy.
	putAdmins(t, awsCfg, services, "shop")
	expect("alice after she left the admins of shop", keys(shop, "alice"))
	expect("alice on the bastion, granted nowhere now", keys(&bastion, "alice"))
	putAdmins(t, awsCfg, services, "shop", "alice")
	expect("alice granted again", keys(shop, "alice"), aliceKey)
}

func TestAuthorizedKeysFailsWhenAWSDoes(t *testing.T) {
	t.Parallel()
	awsCfg := emulatortest.Config(t, testRegion)
	cfg := &elevator.AgentConfig{Mode: elevator.AgentModeService, Orbit: "gone", Region: testRegion, App: "shop", Service: "web",
		UsersTable: "gone-users", ServicesTable: "gone-services"}
	_, err := AuthorizedKeys(context.Background(), cfg, dynamodb.New(awsCfg), "alice")
	if elevator.ErrorCode(err) != elevator.ENOTFOUND || !strings.Contains(err.Error(), "gone-") {
		t.Fatalf("missing tables: %v, want an ENOTFOUND error naming them", err)
	}
}

func TestSyncUsersMakesLocksAndUnlocksOnlyItsOwnAccounts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	awsCfg := emulatortest.Config(t, testRegion)
	cfg := sshTables(t, awsCfg, "stage")
	tables := dynamodb.New(awsCfg)
	a, run, _ := testAgent(t, nil)
	writeFile(t, a, "/etc/passwd", "root:x:0:0:root:/root:/bin/bash\nadmin:x:1000:1000::/home/admin:/bin/bash\n")
	writeFile(t, a, "/etc/group", "root:x:0:\n")
	putAdmins(t, awsCfg, cfg.ServicesTable, "shop", "alice", "admin", "Not-A-Linux-Name")
	putAdmins(t, awsCfg, cfg.ServicesTable, "cart", "carol")

	if err := a.SyncUsers(ctx, cfg, tables); err != nil {
		t.Fatalf("first sync: %v", err)
	}
	want := []string{"groupadd --system elevator", "useradd -m -s /bin/bash -G elevator alice"}
	if got := run.lines(); !reflect.DeepEqual(got, want) {
		t.Fatalf("first sync ran %q, want %q (admin has an account already; carol is granted cart only)", got, want)
	}

	// The accounts now exist, as useradd would have left them.
	writeFile(t, a, "/etc/passwd", "root:x:0:0:root:/root:/bin/bash\nadmin:x:1000:1000::/home/admin:/bin/bash\nalice:x:1001:1001::/home/alice:/bin/bash\n")
	writeFile(t, a, "/etc/group", "root:x:0:\n"+AdminGroup+":x:999:alice\n")
	run.commands = nil
	if err := a.SyncUsers(ctx, cfg, tables); err != nil {
		t.Fatalf("second sync: %v", err)
	}
	if got := run.lines(); len(got) != 0 {
		t.Fatalf("a sync with nothing changed ran %q", got)
	}

	putAdmins(t, awsCfg, cfg.ServicesTable, "shop", "carol") // alice and admin no longer granted
	run.commands = nil
	if err := a.SyncUsers(ctx, cfg, tables); err != nil {
		t.Fatalf("sync after the revoke: %v", err)
	}
	want = []string{"useradd -m -s /bin/bash -G elevator carol", "usermod -L -e 1 alice"}
	if got := run.lines(); !reflect.DeepEqual(got, want) {
		t.Fatalf("sync after the revoke ran %q, want %q (admin, not made by the agent, is never locked)", got, want)
	}

	writeFile(t, a, "/etc/passwd", "root:x:0:0:root:/root:/bin/bash\nadmin:x:1000:1000::/home/admin:/bin/bash\nalice:x:1001:1001::/home/alice:/bin/bash\ncarol:x:1002:1002::/home/carol:/bin/bash\n")
	putAdmins(t, awsCfg, cfg.ServicesTable, "shop", "carol", "alice")
	run.commands = nil
	if err := a.SyncUsers(ctx, cfg, tables); err != nil {
		t.Fatalf("sync after the new grant: %v", err)
	}
	want = []string{"usermod -e  alice"}
	if got := run.lines(); !reflect.DeepEqual(got, want) {
		t.Fatalf("sync after alice's new grant ran %q, want %q", got, want)
	}
	state, err := os.ReadFile(a.Paths.Path(elevator.AgentStateDir + "/users"))
	if err != nil {
		t.Fatal(err)
	}
	if s := string(state); !strings.Contains(s, `"alice": "active"`) || !strings.Contains(s, `"carol": "active"`) || strings.Contains(s, "admin") {
		t.Errorf("state file:\n%s\nwant alice and carol active, and no admin (the agent did not make it)", s)
	}
}

func TestSyncUsersOnABastionMakesEveryGrantedUser(t *testing.T) {
	t.Parallel()
	awsCfg := emulatortest.Config(t, testRegion)
	cfg := sshTables(t, awsCfg, "bast")
	cfg.Mode, cfg.App, cfg.Service = elevator.AgentModeBastion, "", ""
	a, run, _ := testAgent(t, nil)
	writeFile(t, a, "/etc/group", AdminGroup+":x:999:\n")
	putAdmins(t, awsCfg, cfg.ServicesTable, "shop", "alice")
	putAdmins(t, awsCfg, cfg.ServicesTable, "cart/web", "carol")
	putAdmins(t, awsCfg, cfg.ServicesTable, elevator.AgentOperators, "ops")
	if err := a.SyncUsers(context.Background(), cfg, dynamodb.New(awsCfg)); err != nil {
		t.Fatal(err)
	}
	want := []string{"useradd -m -s /bin/bash -G elevator alice", "useradd -m -s /bin/bash -G elevator carol", "useradd -m -s /bin/bash -G elevator ops"}
	if got := run.lines(); !reflect.DeepEqual(got, want) {
		t.Fatalf("bastion sync ran %q, want %q", got, want)
	}
}

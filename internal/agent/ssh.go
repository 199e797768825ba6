package agent

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/aws/dynamodb"
)

// AdminGroup is the group of the accounts the agent makes; a sudoers
// drop-in gives it passwordless sudo.
const AdminGroup = "elevator"

// Files the agent writes for SSH access.
const (
	sshdDropIn    = "/etc/ssh/sshd_config.d/50-elevator.conf"
	sudoersDropIn = "/etc/sudoers.d/elevator"
	usersState    = "users" // under elevator.AgentStateDir
	usersUnit     = "elevator-agent-users"
	systemdDir    = "/etc/systemd/system"
)

// sshdConfig makes sshd ask the agent for a user's keys. The command runs
// as root: it reads the agent's configuration, which is root only (0600),
// and reaches AWS with the instance profile. (EC2 Instance Connect runs
// its command as a user of its own; the agent would need its configuration
// readable by that user, and it holds the orbit's table names only, but
// root keeps one owner for every file of the agent.) sshd runs the command
// only for an account that exists: sync-users makes them.
var sshdConfig = "# Written by the Elevator agent: keys come from the orbit's users table.\n" +
	"AuthorizedKeysCommand " + elevator.AgentBinaryPath + " authorized-keys %u\n" +
	"AuthorizedKeysCommandUser root\n"

// eicMask replaces EC2 Instance Connect's systemd drop-in for sshd (same
// name, in /etc, which wins over /usr/lib and /lib): the package that
// Amazon Linux 2023 and Ubuntu images ship starts sshd with its own
// AuthorizedKeysCommand on the command line, which beats every file in
// sshd_config.d, so Elevator's keys would never be asked for. With
// Elevator, the orbit's tables say who may log in; Instance Connect's
// pushed keys no longer work on its hosts.
var eicMask = "# Written by the Elevator agent: masks EC2 Instance Connect's drop-in of the\n" +
	"# same name, whose AuthorizedKeysCommand would override Elevator's.\n[Service]\n"

var sudoers = "# Written by the Elevator agent.\n%" + AdminGroup + " ALL=(ALL) NOPASSWD:ALL\n"

var usersService = `[Unit]
Description=Elevator: accounts for the users granted SSH access
Wants=network-online.target
After=network-online.target

[Service]
Type=oneshot
ExecStart=` + elevator.AgentBinaryPath + ` sync-users
`

var usersTimer = `[Unit]
Description=Elevator: accounts for the users granted SSH access, every minute

[Timer]
OnBootSec=1min
OnUnitActiveSec=1min

[Install]
WantedBy=timers.target
`

// operatorItems are the services items whose admins may log in anywhere.
var operatorItems = []string{elevator.AgentOperators, elevator.AgentSpacelOperators}

// grantItems are the names of the services-table items that grant access
// to this host: the operators' items, then the app's and the service's.
func grantItems(cfg *elevator.AgentConfig) []string {
	names := append([]string{}, operatorItems...)
	if cfg.Mode == elevator.AgentModeService {
		names = append(names, cfg.App, cfg.App+"/"+cfg.Service)
	}
	return names
}

func nameKeys(names ...string) []dynamodb.Item {
	keys := make([]dynamodb.Item, len(names))
	for i, n := range names {
		keys[i] = dynamodb.Item{"name": n}
	}
	return keys
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

// AuthorizedKeys returns the public keys user may log in to this host
// with: the keys of the user's item in the users table, when the user is
// an admin of an operators item, of the app's item or of the service's
// item of the services table — one BatchGetItem. On a bastion, any user
// who is an admin of any item passes (ssh -J needs the bastion to reach
// the host they are granted): when the user is no operator, a second call
// scans the services table for an item naming them. A user that is not a
// Linux user name, unknown or not granted gets no key and no error. It
// returns an error only when AWS fails.
func AuthorizedKeys(ctx context.Context, cfg *elevator.AgentConfig, tables Tables, user string) ([]string, error) {
	if elevator.CheckUserName(user) != nil {
		return nil, nil
	}
	got, err := tables.BatchGet(ctx, map[string][]dynamodb.Item{
		cfg.UsersTable:    nameKeys(user),
		cfg.ServicesTable: nameKeys(grantItems(cfg)...),
	})
	if err != nil {
		return nil, err
	}
	var keys []string
	for _, it := range got[cfg.UsersTable] {
		if it["name"] == user {
			keys = cleanKeys(dynamodb.Strings(it["keys"]))
		}
	}
	if len(keys) == 0 {
		return nil, nil
	}
	for _, it := range got[cfg.ServicesTable] {
		if contains(dynamodb.Strings(it["admins"]), user) {
			return keys, nil
		}
	}
	if cfg.Mode != elevator.AgentModeBastion {
		return nil, nil
	}
	items, err := tables.Scan(ctx, cfg.ServicesTable, dynamodb.ScanInput{Attribute: "admins", Contains: user, Attributes: []string{"name", "admins"}, Limit: 1})
	if err != nil {
		return nil, err
	}
	for _, it := range items {
		if contains(dynamodb.Strings(it["admins"]), user) {
			return keys, nil
		}
	}
	return nil, nil
}

// cleanKeys drops what cannot be one authorized_keys line: a value with a
// line break would add lines of its own.
func cleanKeys(keys []string) []string {
	var out []string
	for _, k := range keys {
		k = strings.TrimSpace(k)
		if k != "" && !strings.ContainsAny(k, "\r\n\x00") {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// AllowedUsers returns the users who may log in to this host, sorted:
// the admins of its grant items (service mode), or of every item of the
// services table (bastion). Names that are not Linux user names are left
// out.
func AllowedUsers(ctx context.Context, cfg *elevator.AgentConfig, tables Tables) ([]string, error) {
	var items []dynamodb.Item
	if cfg.Mode == elevator.AgentModeBastion {
		all, err := tables.Scan(ctx, cfg.ServicesTable, dynamodb.ScanInput{Attributes: []string{"name", "admins"}})
		if err != nil {
			return nil, err
		}
		items = all
	} else {
		got, err := tables.BatchGet(ctx, map[string][]dynamodb.Item{cfg.ServicesTable: nameKeys(grantItems(cfg)...)})
		if err != nil {
			return nil, err
		}
		items = got[cfg.ServicesTable]
	}
	seen := map[string]bool{}
	var users []string
	for _, it := range items {
		for _, u := range dynamodb.Strings(it["admins"]) {
			if !seen[u] && elevator.CheckUserName(u) == nil {
				seen[u] = true
				users = append(users, u)
			}
		}
	}
	sort.Strings(users)
	return users, nil
}

// userStates is what sync-users remembers of the accounts it made, in
// AgentStateDir/users: each name, "active" or "locked".
type userStates map[string]string

const (
	userActive = "active"
	userLocked = "locked"
)

func (a *Agent) loadUserStates() (userStates, error) {
	path := a.Paths.Path(elevator.AgentStateDir + "/" + usersState)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return userStates{}, nil
	}
	if err != nil {
		return nil, elevator.Errorf(elevator.EINTERNAL, "read %s: %w", path, err)
	}
	var st struct {
		Users userStates `json:"users"`
	}
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, elevator.Errorf(elevator.EINTERNAL, "read %s: %w", path, err)
	}
	if st.Users == nil {
		st.Users = userStates{}
	}
	return st.Users, nil
}

func (a *Agent) saveUserStates(s userStates) error {
	data, err := json.MarshalIndent(map[string]any{"users": s}, "", "  ")
	if err != nil {
		return elevator.Errorf(elevator.EINTERNAL, "save users: %w", err)
	}
	if err := os.MkdirAll(a.Paths.Path(elevator.AgentStateDir), 0o700); err != nil {
		return elevator.Errorf(elevator.EINTERNAL, "save users: %w", err)
	}
	return writeAtomic(a.Paths.Path(elevator.AgentStateDir+"/"+usersState), append(data, '\n'), 0o600)
}

// lockUsers takes the lock of the users' list, waiting for it.
func (a *Agent) lockUsers() (func(), error) {
	dir := a.Paths.Path(elevator.AgentStateDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, elevator.Errorf(elevator.EINTERNAL, "lock the users' list: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, usersState+".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, elevator.Errorf(elevator.EINTERNAL, "lock the users' list: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, elevator.Errorf(elevator.EINTERNAL, "lock the users' list: %w", err)
	}
	return func() { f.Close() }, nil
}

// names reads the first field of each line of an /etc/passwd or
// /etc/group file.
func names(path string) map[string]bool {
	out := map[string]bool{}
	f, err := os.Open(path)
	if err != nil {
		return out
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if n, _, ok := strings.Cut(sc.Text(), ":"); ok {
			out[n] = true
		}
	}
	return out
}

// SyncUsers makes the Linux accounts of the users allowed on this host
// (useradd -m -s /bin/bash -G elevator), unlocks the ones it made and
// locked before, and locks (usermod -L -e 1: password locked, account
// expired) the ones it made that are no longer allowed. It never touches
// an account it did not make: a user with an account already (ec2-user,
// admin) is left as it is. What it made is kept in AgentStateDir/users.
func (a *Agent) SyncUsers(ctx context.Context, cfg *elevator.AgentConfig, tables Tables) error {
	allowed, err := AllowedUsers(ctx, cfg, tables)
	if err != nil {
		return err
	}
	// The timer and a boot may sync at once: one at a time, or the last
	// to save its list could forget an account the other made.
	unlock, err := a.lockUsers()
	if err != nil {
		return err
	}
	defer unlock()
	states, err := a.loadUserStates()
	if err != nil {
		return err
	}
	if !names(a.Paths.Path("/etc/group"))[AdminGroup] {
		if err := a.Runner.Run(ctx, Command{Name: "groupadd", Args: []string{"--system", AdminGroup}}); err != nil {
			return elevator.Errorf(elevator.EINTERNAL, "make group %s: %w", AdminGroup, err)
		}
	}
	existing := names(a.Paths.Path("/etc/passwd"))
	var errs []error
	isAllowed := map[string]bool{}
	for _, u := range allowed {
		isAllowed[u] = true
		switch {
		case states[u] == userActive && existing[u]:
		case states[u] == userLocked && existing[u]:
			if err := a.Runner.Run(ctx, Command{Name: "usermod", Args: []string{"-e", "", u}}); err != nil {
				errs = append(errs, err)
				continue
			}
			states[u] = userActive
			a.Log.Info("unlocked user", "user", u)
		case existing[u] && states[u] == "":
			a.Log.Info("user has an account the agent did not make: left as it is", "user", u)
		default:
			if err := a.Runner.Run(ctx, Command{Name: "useradd", Args: []string{"-m", "-s", "/bin/bash", "-G", AdminGroup, u}}); err != nil {
				errs = append(errs, err)
				continue
			}
			states[u] = userActive
			a.Log.Info("made user", "user", u)
		}
	}
	made := make([]string, 0, len(states))
	for u := range states {
		made = append(made, u)
	}
	sort.Strings(made)
	for _, u := range made {
		if isAllowed[u] || states[u] != userActive {
			continue
		}
		if !existing[u] { // removed by someone else: forget it
			delete(states, u)
			continue
		}
		if err := a.Runner.Run(ctx, Command{Name: "usermod", Args: []string{"-L", "-e", "1", u}}); err != nil {
			errs = append(errs, err)
			continue
		}
		states[u] = userLocked
		a.Log.Info("locked user", "user", u)
	}
	if err := a.saveUserStates(states); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return elevator.Errorf(elevator.EINTERNAL, "sync users: %w", err)
	}
	return nil
}

// setupSSH writes sshd's and sudo's drop-ins and the units of the
// sync-users timer, and reloads sshd when it runs.
func (a *Agent) setupSSH(ctx context.Context) error {
	files := []struct {
		path string
		data string
		mode os.FileMode
	}{
		{sshdDropIn, sshdConfig, 0o644},
		{sudoersDropIn, sudoers, 0o440},
		{systemdDir + "/" + usersUnit + ".service", usersService, 0o644},
		{systemdDir + "/" + usersUnit + ".timer", usersTimer, 0o644},
		{systemdDir + "/sshd.service.d/ec2-instance-connect.conf", eicMask, 0o644},
		{systemdDir + "/ssh.service.d/ec2-instance-connect.conf", eicMask, 0o644},
	}
	for _, f := range files {
		if err := os.MkdirAll(filepath.Dir(a.Paths.Path(f.path)), 0o755); err != nil {
			return elevator.Errorf(elevator.EINTERNAL, "write %s: %w", f.path, err)
		}
		if err := writeAtomic(a.Paths.Path(f.path), []byte(f.data), f.mode); err != nil {
			return err
		}
	}
	// A changed drop-in takes a daemon-reload and a restart (not a reload)
	// of sshd; established sessions survive it. Amazon Linux calls sshd's
	// unit sshd, Debian ssh (with sshd as an alias): one at a time, so a
	// name this image lacks does not stop the other. A unit that is not
	// running is left alone.
	if err := a.systemctl(ctx, "daemon-reload"); err != nil {
		return err
	}
	restarted := false
	for _, unit := range []string{"sshd", "ssh"} {
		if a.Runner.Run(ctx, Command{Name: "systemctl", Args: []string{"try-restart", unit}}) == nil {
			restarted = true
		}
	}
	if !restarted {
		a.Log.Warn("could not restart sshd: new logins may not ask the agent for keys until it restarts")
	}
	return nil
}

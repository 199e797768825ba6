// Package access grants and revokes SSH access to an orbit's instances: it
// writes the orbit's users table (elevator.UsersTableName: an item per
// user, {name, keys: SS of public key lines}) and services table
// (elevator.ServicesTableName: an item per scope, {name, admins: SS of
// user names}) in every region of the orbit, which the agent on each
// instance reads at every login. This is what `elevator access` runs.
//
// Items keep the shape spacel wrote, so spacel's tables work as they are,
// and add an audit: who changed the item last and when (updated_by,
// updated_at, Unix seconds), a revision that makes each write conditional
// on the item read (two people granting at once cannot lose a change), and
// the item's last HistoryLimit changes. The services table is the only
// record of who may reach what: the agent reads it at every login.
//
// A change is read in every region first, and written only once every
// region has been read: a missing table or a refused read anywhere writes
// nothing.
package access

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/aws/dynamodb"
)

// HistoryLimit is how many changes an item remembers.
const HistoryLimit = 50

// Items reads and writes DynamoDB items in one region.
type Items interface {
	GetItem(ctx context.Context, table string, key dynamodb.Item) (dynamodb.Item, error)
	PutItem(ctx context.Context, table string, item dynamodb.Item, conds ...dynamodb.Condition) error
	Scan(ctx context.Context, table string, in dynamodb.ScanInput) ([]dynamodb.Item, error)
}

// Region is the SSH tables of an orbit in one region.
type Region struct {
	Name  string
	Items Items
}

// Tables are an orbit's SSH tables in each of its regions.
type Tables struct {
	Orbit   string
	Regions []Region
}

func (t Tables) users() string    { return elevator.UsersTableName(t.Orbit) }
func (t Tables) services() string { return elevator.ServicesTableName(t.Orbit) }

// Scope is who a grant lets a user reach: every host of the orbit (the
// zero Scope: an operator), an app's hosts, or one service's.
type Scope struct {
	App, Service string
}

// Item is the name of the services-table item of the scope.
func (s Scope) Item() string {
	switch {
	case s.App == "":
		return elevator.AgentOperators
	case s.Service == "":
		return s.App
	}
	return s.App + "/" + s.Service
}

// String describes the scope for people.
func (s Scope) String() string {
	switch {
	case s.App == "":
		return "operators (every host)"
	case s.Service == "":
		return "app " + s.App
	}
	return "service " + s.App + "/" + s.Service
}

// ScopeOf returns the scope a services-table item names; spacel's
// operators item is the operators' scope.
func ScopeOf(item string) Scope {
	if item == elevator.AgentOperators || item == elevator.AgentSpacelOperators {
		return Scope{}
	}
	app, svc, _ := strings.Cut(item, "/")
	return Scope{App: app, Service: svc}
}

// The actions a history entry records.
const (
	ActionGrant     = "grant"      // the user was added to a scope
	ActionRevoke    = "revoke"     // the user was removed from a scope
	ActionAddKey    = "add-key"    // a key was added to the user
	ActionRemoveKey = "remove-key" // a key was removed from the user
)

// Entry is one change in an item's history.
type Entry struct {
	At     time.Time `json:"at"`
	By     string    `json:"by"`
	Action string    `json:"action"`
	User   string    `json:"user"`
	Scope  string    `json:"scope,omitempty"` // a services-table item name
	Key    string    `json:"key,omitempty"`   // a key's fingerprint
}

// Change is one `access grant` or `access revoke`.
type Change struct {
	User string
	// Grant adds Keys and Scope; otherwise they are removed.
	Grant bool
	Keys  []Key
	// Scope is the scope to add or remove; nil for none.
	Scope *Scope
	// All removes every key and scope of the user (a revoke only).
	All bool
	By  string
	At  time.Time
}

// Result is what a change did in one region: the entries it recorded,
// none when everything was so already.
type Result struct {
	Region  string  `json:"region"`
	Changes []Entry `json:"changes"`
	// Keys is how many keys the user has in the region afterwards: a
	// user without one cannot log in, whatever their scopes.
	Keys int `json:"keys"`
}

// write is one item to put, on the condition that it is still as read.
type write struct {
	table string
	item  dynamodb.Item
	cond  dynamodb.Condition
}

// Apply makes the change in every region: it reads what it needs in all of
// them, then writes. It returns one Result per region. Errors are the
// adapter's: an ENOTFOUND one wrapping dynamodb.ErrTableNotFound when the
// orbit is not up in a region (nothing written anywhere), an ECONFLICT one
// when an item changed between the read and the write (run it again).
// A failure after the first write says which regions were written.
func (t Tables) Apply(ctx context.Context, c Change) ([]Result, error) {
	plans := make([][]write, len(t.Regions))
	results := make([]Result, len(t.Regions))
	for i, r := range t.Regions {
		w, changes, keys, err := t.plan(ctx, r, c)
		if err != nil {
			return nil, err
		}
		plans[i] = w
		results[i] = Result{Region: r.Name, Changes: changes, Keys: keys}
		if results[i].Changes == nil {
			results[i].Changes = []Entry{}
		}
	}
	var done []string
	for i, r := range t.Regions {
		for _, w := range plans[i] {
			if err := r.Items.PutItem(ctx, w.table, w.item, w.cond); err != nil {
				if errors.Is(err, dynamodb.ErrConditionFailed) {
					err = elevator.Errorf(elevator.ECONFLICT, "item %v of %s in %s changed while this ran: run the command again: %w", w.item["name"], w.table, r.Name, err)
				}
				if len(done) > 0 {
					return nil, fmt.Errorf("%w (the change is made in %s already; running it again finishes it)", err, strings.Join(done, ", "))
				}
				return nil, err
			}
		}
		done = append(done, r.Name)
	}
	return results, nil
}

// plan reads the items the change touches in one region and returns the
// writes that make it, with the entries they record, and how many keys the
// user has afterwards.
func (t Tables) plan(ctx context.Context, r Region, c Change) (writes []write, userEntries []Entry, keyCount int, err error) {
	user, err := get(ctx, r.Items, t.users(), c.User)
	if err != nil {
		return nil, nil, 0, err
	}
	// The services items the change may touch, by name.
	scopes := map[string]dynamodb.Item{}
	var names []string
	switch {
	case c.All:
		all, err := r.Items.Scan(ctx, t.services(), dynamodb.ScanInput{})
		if err != nil {
			return nil, nil, 0, err
		}
		for _, it := range all {
			if n, _ := it["name"].(string); n != "" && slices.Contains(stringSet(it, "admins"), c.User) {
				scopes[n] = it
				names = append(names, n)
			}
		}
	case c.Scope != nil:
		names = []string{c.Scope.Item()}
		if !c.Grant && c.Scope.App == "" {
			names = append(names, elevator.AgentSpacelOperators)
		}
		for _, n := range names {
			it, err := get(ctx, r.Items, t.services(), n)
			if err != nil {
				return nil, nil, 0, err
			}
			scopes[n] = it
		}
	}
	sort.Strings(names)

	entry := func(action, scope, key string) Entry {
		return Entry{At: c.At.UTC().Truncate(time.Second), By: c.By, Action: action, User: c.User, Scope: scope, Key: key}
	}
	newUser := clone(user, c.User)

	// Keys.
	keys := stringSet(newUser, "keys")
	switch {
	case c.All:
		for _, line := range keys {
			userEntries = append(userEntries, entry(ActionRemoveKey, "", fingerprint(line)))
		}
		keys = nil
	default:
		for _, k := range c.Keys {
			at := slices.IndexFunc(keys, func(line string) bool { return fingerprint(line) == k.Fingerprint })
			switch {
			case c.Grant && at < 0:
				keys = append(keys, k.Line)
				userEntries = append(userEntries, entry(ActionAddKey, "", k.Fingerprint))
			case !c.Grant && at >= 0:
				keys = slices.Delete(keys, at, at+1)
				userEntries = append(userEntries, entry(ActionRemoveKey, "", k.Fingerprint))
			}
		}
	}
	setStrings(newUser, "keys", keys)

	// Scopes: the services items.
	for _, n := range names {
		it := scopes[n]
		admins := stringSet(it, "admins")
		has := slices.Contains(admins, c.User)
		action := ActionRevoke
		switch {
		case c.Grant && !has:
			admins = append(admins, c.User)
			action = ActionGrant
		case !c.Grant && has:
			admins = slices.DeleteFunc(admins, func(u string) bool { return u == c.User })
		default:
			continue
		}
		e := entry(action, n, "")
		updated := clone(it, n)
		setStrings(updated, "admins", admins)
		writes = append(writes, write{t.services(), stamp(updated, c, e), unchanged(it)})
		userEntries = append(userEntries, e)
	}
	if len(userEntries) > 0 {
		writes = append(writes, write{t.users(), stamp(newUser, c, userEntries...), unchanged(user)})
	}
	return writes, userEntries, len(keys), nil
}

// get reads the item called name, or returns nil when there is none.
func get(ctx context.Context, items Items, table, name string) (dynamodb.Item, error) {
	it, err := items.GetItem(ctx, table, dynamodb.Item{"name": name})
	if errors.Is(err, dynamodb.ErrNotFound) {
		return nil, nil
	}
	return it, err
}

// unchanged is the condition that the item in place is still old: same
// revision, or, for an item without one (spacel wrote it), still none.
func unchanged(old dynamodb.Item) dynamodb.Condition {
	if old == nil {
		return dynamodb.AttributeNotExists("name")
	}
	if rev, ok := old["revision"].(int64); ok {
		return dynamodb.Equal("revision", rev)
	}
	return dynamodb.AttributeNotExists("revision")
}

// stamp records entries on item: its revision, who changed it and when,
// and its history, which keeps the last HistoryLimit entries.
func stamp(item dynamodb.Item, c Change, entries ...Entry) dynamodb.Item {
	rev, _ := item["revision"].(int64)
	item["revision"] = rev + 1
	item["updated_by"] = c.By
	item["updated_at"] = c.At.Unix()
	history, _ := item["history"].([]any)
	for _, e := range entries {
		m := map[string]any{"at": e.At.Unix(), "by": e.By, "action": e.Action, "user": e.User}
		if e.Scope != "" {
			m["scope"] = e.Scope
		}
		if e.Key != "" {
			m["key"] = e.Key
		}
		history = append(history, m)
	}
	if len(history) > HistoryLimit {
		history = history[len(history)-HistoryLimit:]
	}
	item["history"] = history
	return item
}

// clone copies item (a new one called name when item is nil).
func clone(item dynamodb.Item, name string) dynamodb.Item {
	out := dynamodb.Item{"name": name}
	for k, v := range item {
		out[k] = v
	}
	return out
}

// stringSet returns a string-set attribute of item (nil when absent).
func stringSet(item dynamodb.Item, attr string) []string {
	// A list or a single string, as a hand-filled table may hold, is read
	// too: a grant rewrites it as a set and loses no one.
	return slices.Clone(dynamodb.Strings(item[attr]))
}

// setStrings sets a string-set attribute, or removes it when empty:
// DynamoDB has no empty sets.
func setStrings(item dynamodb.Item, attr string, ss []string) {
	if len(ss) == 0 {
		delete(item, attr)
		return
	}
	sort.Strings(ss)
	item[attr] = ss
}

// fingerprint returns the fingerprint of a stored key line, or "" when it
// does not parse.
func fingerprint(line string) string {
	k, err := ParseKey(line)
	if err != nil {
		return ""
	}
	return k.Fingerprint
}

// history reads the history of an item.
func history(item dynamodb.Item) []Entry {
	raw, _ := item["history"].([]any)
	out := make([]Entry, 0, len(raw))
	for _, r := range raw {
		m, ok := r.(map[string]any)
		if !ok {
			continue
		}
		e := Entry{}
		if at, ok := m["at"].(int64); ok {
			e.At = time.Unix(at, 0).UTC()
		}
		e.By, _ = m["by"].(string)
		e.Action, _ = m["action"].(string)
		e.User, _ = m["user"].(string)
		e.Scope, _ = m["scope"].(string)
		e.Key, _ = m["key"].(string)
		out = append(out, e)
	}
	return out
}

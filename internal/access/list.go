package access

import (
	"context"
	"slices"
	"sort"
	"time"

	"github.com/elevatorhq/elevator/internal/aws/dynamodb"
)

// User is what the tables say of one user, over every region of the
// orbit. A key or scope held in only some regions lists them.
type User struct {
	Name   string       `json:"name"`
	Keys   []ListedKey  `json:"keys"`
	Scopes []ListedItem `json:"scopes"`
	// UpdatedBy and UpdatedAt are the last change to the user's item, in
	// whichever region it was made last.
	UpdatedBy string    `json:"updated_by,omitempty"`
	UpdatedAt time.Time `json:"updated_at,omitzero"`
	// History is the user item's history in the first region that has
	// one, oldest first; filled only when asked for.
	History []Entry `json:"history,omitempty"`
}

// ListedKey is a key of a user: never the key itself, its fingerprint.
type ListedKey struct {
	Fingerprint string   `json:"fingerprint"` // "" when the stored line does not parse
	Type        string   `json:"type"`
	Comment     string   `json:"comment,omitempty"`
	Regions     []string `json:"regions"`
}

// ListedItem is a scope a user holds: the services item's name.
type ListedItem struct {
	Item    string   `json:"item"`  // ELEVATOR_OPERATORS, shop, shop/web, ...
	Scope   string   `json:"scope"` // for people: operators (every host), app shop, ...
	Regions []string `json:"regions"`
}

// List reads both tables in every region and returns the users, by name;
// with user set, only that one (none when it has nothing). Scopes come from
// the services table (the admins of each item), so users that spacel
// granted without an item in the users table are listed too.
func (t Tables) List(ctx context.Context, user string, withHistory bool) ([]User, error) {
	byName := map[string]*User{}
	get := func(name string) *User {
		u := byName[name]
		if u == nil {
			u = &User{Name: name, Keys: []ListedKey{}, Scopes: []ListedItem{}}
			byName[name] = u
		}
		return u
	}
	for _, r := range t.Regions {
		users, err := r.Items.Scan(ctx, t.users(), dynamodb.ScanInput{})
		if err != nil {
			return nil, err
		}
		services, err := r.Items.Scan(ctx, t.services(), dynamodb.ScanInput{})
		if err != nil {
			return nil, err
		}
		for _, it := range users {
			name, _ := it["name"].(string)
			if name == "" || (user != "" && name != user) {
				continue
			}
			u := get(name)
			for _, line := range stringSet(it, "keys") {
				k, err := ParseKey(line)
				if err != nil {
					k = Key{Type: "unreadable"}
				}
				i := slices.IndexFunc(u.Keys, func(l ListedKey) bool { return l.Fingerprint == k.Fingerprint && l.Type == k.Type })
				if i < 0 {
					u.Keys = append(u.Keys, ListedKey{Fingerprint: k.Fingerprint, Type: k.Type, Comment: k.Comment})
					i = len(u.Keys) - 1
				}
				u.Keys[i].Regions = append(u.Keys[i].Regions, r.Name)
			}
			if at, ok := it["updated_at"].(int64); ok && time.Unix(at, 0).After(u.UpdatedAt) {
				u.UpdatedAt = time.Unix(at, 0).UTC()
				u.UpdatedBy, _ = it["updated_by"].(string)
			}
			if withHistory && u.History == nil {
				if h := history(it); len(h) > 0 {
					u.History = h
				}
			}
		}
		for _, it := range services {
			item, _ := it["name"].(string)
			for _, name := range stringSet(it, "admins") {
				if item == "" || (user != "" && name != user) {
					continue
				}
				u := get(name)
				i := slices.IndexFunc(u.Scopes, func(l ListedItem) bool { return l.Item == item })
				if i < 0 {
					u.Scopes = append(u.Scopes, ListedItem{Item: item, Scope: ScopeOf(item).String()})
					i = len(u.Scopes) - 1
				}
				u.Scopes[i].Regions = append(u.Scopes[i].Regions, r.Name)
			}
		}
	}
	out := make([]User, 0, len(byName))
	for _, u := range byName {
		sort.Slice(u.Keys, func(i, j int) bool {
			a, b := u.Keys[i], u.Keys[j]
			if a.Comment != b.Comment {
				return a.Comment < b.Comment
			}
			return a.Fingerprint < b.Fingerprint
		})
		sort.Slice(u.Scopes, func(i, j int) bool { return u.Scopes[i].Item < u.Scopes[j].Item })
		out = append(out, *u)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

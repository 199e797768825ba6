package iampolicy

import (
	"bytes"
	"compress/gzip"
	_ "embed"
	"io"
	"path"
	"strings"
	"sync"
)

//go:generate go run gen_actions.go

// actionsGz is the table of IAM actions by service prefix, generated from
// cfn-lint's cfnlint/data/AdditionalSpecs/Policies.json by gen_actions.go
// (`go generate ./internal/iampolicy`, run by hand and committed): one line
// per service, its prefix then its actions, lower-cased.
//
//go:embed actions.txt.gz
var actionsGz []byte

var (
	loadActions sync.Once
	actions     map[string][]string
)

// services returns the table of actions, read once.
func services() map[string][]string {
	loadActions.Do(func() {
		actions = map[string][]string{}
		z, err := gzip.NewReader(bytes.NewReader(actionsGz))
		if err != nil {
			panic("iampolicy: actions.txt.gz: " + err.Error()) // a bad build; every test catches it
		}
		data, err := io.ReadAll(z)
		if err != nil {
			panic("iampolicy: actions.txt.gz: " + err.Error())
		}
		for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			f := strings.Fields(line)
			if len(f) > 0 {
				actions[f[0]] = f[1:]
			}
		}
	})
	return actions
}

// KnownService reports whether prefix (such as s3) is an IAM service prefix.
func KnownService(prefix string) bool {
	_, ok := services()[strings.ToLower(prefix)]
	return ok
}

// ActionExists reports whether pattern (an action name of service prefix,
// with * and ? wildcards allowed) matches at least one of its actions.
// Case does not matter, as in IAM.
func ActionExists(prefix, pattern string) bool {
	list, ok := services()[strings.ToLower(prefix)]
	if !ok {
		return false
	}
	pattern = strings.ToLower(pattern)
	if !strings.ContainsAny(pattern, "*?") {
		i := sortSearch(list, pattern)
		return i < len(list) && list[i] == pattern
	}
	if strings.ContainsAny(pattern, "[\\") {
		return false // not IAM wildcards; path.Match would read them as classes
	}
	for _, a := range list {
		if ok, _ := path.Match(pattern, a); ok {
			return true
		}
	}
	return false
}

func sortSearch(list []string, s string) int {
	lo, hi := 0, len(list)
	for lo < hi {
		m := (lo + hi) / 2
		if list[m] < s {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

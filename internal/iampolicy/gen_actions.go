//go:build ignore

// gen_actions writes actions.txt.gz, the table of IAM actions that policy
// validation checks against, from cfn-lint's
// cfnlint/data/AdditionalSpecs/Policies.json (the cfn-lint pinned in
// requirements.lock, installed in .venv). Run it by hand after updating
// cfn-lint, and commit the result:
//
//	go generate ./internal/iampolicy
//
// Each line of the table is a service prefix followed by its actions,
// lower-cased, separated by spaces, services in order.
package main

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "gen_actions:", err)
		os.Exit(1)
	}
}

func run() error {
	matches, err := filepath.Glob("../../.venv/lib/python*/site-packages/cfnlint/data/AdditionalSpecs/Policies.json")
	if err != nil || len(matches) != 1 {
		return fmt.Errorf("want one cfn-lint Policies.json under .venv, found %v (run scripts/setup)", matches)
	}
	data, err := os.ReadFile(matches[0])
	if err != nil {
		return err
	}
	var spec map[string]struct {
		Actions map[string]json.RawMessage `json:"Actions"`
	}
	if err := json.Unmarshal(data, &spec); err != nil {
		return fmt.Errorf("%s: %w", matches[0], err)
	}
	services := make([]string, 0, len(spec))
	for s := range spec {
		services = append(services, s)
	}
	sort.Strings(services)
	var b strings.Builder
	for _, s := range services {
		actions := make([]string, 0, len(spec[s].Actions))
		for a := range spec[s].Actions {
			actions = append(actions, strings.ToLower(a))
		}
		sort.Strings(actions)
		fmt.Fprintf(&b, "%s %s\n", strings.ToLower(s), strings.Join(actions, " "))
	}
	f, err := os.Create("actions.txt.gz")
	if err != nil {
		return err
	}
	z, _ := gzip.NewWriterLevel(f, gzip.BestCompression)
	if _, err := z.Write([]byte(b.String())); err != nil {
		return err
	}
	if err := z.Close(); err != nil {
		return err
	}
	return f.Close()
}

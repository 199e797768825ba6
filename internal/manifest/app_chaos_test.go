package manifest

import (
	"strings"
	"testing"
)

func TestChaosFalseOptsTheAppOutInEveryOrbitOrInOne(t *testing.T) {
	const base = "name: shop\nservices:\n  web:\n    runtime: {docker: {image: x}}\n"
	for _, c := range []struct {
		name, src, orbit string
		optOut           bool
	}{
		{"no chaos field: chaos may take its instances", base, "production", false},
		{"chaos: true", base + "chaos: true\n", "", false},
		{"chaos: false", base + "chaos: false\n", "staging", true},
		{"an orbit's override opts out there", base + "orbits:\n  production: {chaos: false}\n", "production", true},
		{"and only there", base + "orbits:\n  production: {chaos: false}\n", "staging", false},
		{"an override opts back in", base + "chaos: false\norbits:\n  staging: {chaos: true}\n", "staging", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			a, err := ParseApp("app.yml", []byte(c.src), c.orbit)
			if err != nil {
				t.Fatal(err)
			}
			if a.ChaosOptOut != c.optOut {
				t.Errorf("ChaosOptOut = %v, want %v", a.ChaosOptOut, c.optOut)
			}
		})
	}
}

func TestChaosMustBeTrueOrFalse(t *testing.T) {
	src := "name: shop\nservices:\n  web:\n    runtime: {docker: {image: x}}\nchaos: no-thanks\n"
	_, err := ParseApp("app.yml", []byte(src), "")
	if err == nil || !strings.Contains(err.Error(), "app.yml:5:8: chaos:") || !strings.Contains(err.Error(), "boolean") {
		t.Fatalf("error: %v\nwant app.yml:5:8: chaos: ... boolean", err)
	}
}

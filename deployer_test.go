package elevator

import "testing"

func TestTheDeployerIsTheFlagsElseTheEnvironmentsElseTheOrbits(t *testing.T) {
	orbit := &Orbit{Name: "prod", Deployer: "https://from-manifest"}
	tests := []struct {
		name, flag, env string
		orbit           *Orbit
		want            string
		invalid         bool
	}{
		{"the flag first", "https://from-flag", "https://from-env", orbit, "https://from-flag", false},
		{"then the environment", "", "https://from-env", orbit, "https://from-env", false},
		{"then the manifest", "", "", orbit, "https://from-manifest", false},
		{"none: in process", "", "", &Orbit{Name: "prod"}, "", false},
		{"no orbit", "", "", nil, "", false},
		{"a bad flag is refused", "deployer:8080", "", orbit, "", true},
		{"a bad environment is refused", "", "https://x/?q", orbit, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Deployer(tt.flag, tt.env, tt.orbit)
			if tt.invalid {
				if ErrorCode(err) != EINVALID {
					t.Errorf("got %q, %v; want EINVALID", got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
	if id := DeployerServerID("prod"); id != "prod-deployer" {
		t.Errorf("server id %q", id)
	}
}

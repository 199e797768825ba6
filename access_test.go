package elevator

import "testing"

func TestMatchPrincipalTakesPatternsAndAssumedRoles(t *testing.T) {
	tests := []struct {
		name, pattern, arn string
		want               bool
	}{
		{"the same ARN", "arn:aws:iam::111111111111:role/ops", "arn:aws:iam::111111111111:role/ops", true},
		{"a role pattern", "arn:aws:iam::222222222222:role/ci-*", "arn:aws:iam::222222222222:role/ci-main", true},
		{"a session of a role the pattern names", "arn:aws:iam::222222222222:role/ci-*", "arn:aws:sts::222222222222:assumed-role/ci-main/run-7", true},
		{"a session pattern", "arn:aws:sts::111111111111:assumed-role/ops/*", "arn:aws:sts::111111111111:assumed-role/ops/alice", true},
		{"a session of another role", "arn:aws:sts::111111111111:assumed-role/ops/*", "arn:aws:sts::111111111111:assumed-role/dev/alice", false},
		{"another account", "arn:aws:iam::111111111111:role/ops", "arn:aws:iam::333333333333:role/ops", false},
		{"a star never spans a colon", "arn:aws:iam::111111111111:*", "arn:aws:iam::111111111111:role/x:y", false},
		{"a prefix is not a match", "arn:aws:iam::111111111111:role/ops", "arn:aws:iam::111111111111:role/ops-2", false},
		{"a user", "arn:aws:iam::111111111111:user/*", "arn:aws:iam::111111111111:user/ana", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := MatchPrincipal(tt.pattern, tt.arn); got != tt.want {
				t.Errorf("MatchPrincipal(%q, %q) = %v, want %v", tt.pattern, tt.arn, got, tt.want)
			}
		})
	}
}

func TestRoleOfGivesTheHighestRoleGrantedInTheApp(t *testing.T) {
	o := &Orbit{Access: []AccessRule{
		{Role: RoleViewer, Principals: []string{"arn:aws:iam::111111111111:user/*"}},
		{Role: RoleApprover, Principals: []string{"arn:aws:iam::111111111111:user/ana"}, Apps: []string{"shop"}},
		{Role: RoleAdmin, Principals: []string{"arn:aws:iam::111111111111:role/ops"}},
	}}
	for _, tt := range []struct {
		arn, app string
		want     AccessRole
	}{
		{"arn:aws:iam::111111111111:user/ana", "shop", RoleApprover},
		{"arn:aws:iam::111111111111:user/ana", "cart", RoleViewer},
		{"arn:aws:iam::111111111111:user/ana", "", RoleViewer},
		{"arn:aws:sts::111111111111:assumed-role/ops/bob", "cart", RoleAdmin},
		{"arn:aws:iam::999999999999:user/ana", "shop", ""},
	} {
		if got := o.RoleOf(tt.arn, tt.app); got != tt.want {
			t.Errorf("RoleOf(%s, %q) = %q, want %q", tt.arn, tt.app, got, tt.want)
		}
	}
	if !RoleAdmin.Covers(RoleViewer) || RoleViewer.Covers(RoleApprover) || AccessRole("").Covers(RoleViewer) || RoleAdmin.Covers("root") {
		t.Error("Covers does not follow viewer < deployer < approver < admin")
	}
}

func TestSessionNameOf(t *testing.T) {
	if got := SessionNameOf("arn:aws:sts::111111111111:assumed-role/ops/alice@example.com"); got != "alice@example.com" {
		t.Errorf("session name %q", got)
	}
	if got := SessionNameOf("arn:aws:iam::111111111111:user/ana"); got != "" {
		t.Errorf("session name of a user %q", got)
	}
}

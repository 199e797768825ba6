package elevator

import (
	"slices"
	"testing"
)

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

func TestDashboardUsersMatchEmailAndGroupPrincipals(t *testing.T) {
	alice := UserPrincipals("Alice@Example.com", true, []string{"ops", "bad*"})
	if want := []string{"email:alice@example.com", "group:ops"}; !slices.Equal(alice, want) {
		t.Fatalf("UserPrincipals: %q, want %q", alice, want)
	}
	if got := UserPrincipals("mallory@example.com", false, nil); len(got) != 0 {
		t.Errorf("an unverified email became a principal: %q", got)
	}
	tests := []struct {
		pattern, id string
		want        bool
	}{
		{"email:alice@example.com", "email:alice@example.com", true},
		{"email:*@example.com", "email:alice@example.com", true},
		{"email:*@example.com", "email:alice@example.com.evil.io", false},
		{"email:*@example.com", "email:a@b@example.com", false},
		{"email:*@example.com", "email:@example.com", false},
		{"email:bob@example.com", "email:alice@example.com", false},
		{"group:ops", "group:ops", true},
		{"group:ops", "group:ops-admins", false},
		{"group:ops", "email:ops@example.com", false},
		{"email:*@example.com", "arn:aws:iam::111111111111:role/ops", false},
		{"arn:aws:iam::111111111111:role/*", "group:ops", false},
	}
	for _, tt := range tests {
		if got := MatchPrincipal(tt.pattern, tt.id); got != tt.want {
			t.Errorf("MatchPrincipal(%q, %q) = %v, want %v", tt.pattern, tt.id, got, tt.want)
		}
	}
	o := &Orbit{Name: "prod", Access: []AccessRule{
		{Role: RoleViewer, Principals: []string{"email:*@example.com"}},
		{Role: RoleApprover, Principals: []string{"group:ops"}, Apps: []string{"shop"}},
		{Role: RoleAdmin, Principals: []string{"arn:aws:iam::111111111111:role/ops"}},
	}}
	if got := o.RoleOfAny(alice, "shop"); got != RoleApprover {
		t.Errorf("alice in shop: %q, want approver", got)
	}
	if got := o.RoleOfAny(alice, "cart"); got != RoleViewer {
		t.Errorf("alice in cart: %q, want viewer", got)
	}
	if got := o.RoleOf("arn:aws:sts::111111111111:assumed-role/ops/bob", "cart"); got != RoleAdmin {
		t.Errorf("an IAM caller: %q, want admin", got)
	}
	if o.Names("email:eve@evil.io", "group:devs") {
		t.Error("Names named a stranger")
	}
}

func TestCheckPrincipalTakesTheThreeForms(t *testing.T) {
	for _, p := range []string{"arn:aws:iam::123456789012:role/ci-*", "email:alice@example.com", "email:*@example.co.uk", "group:ops", "group:team/sre"} {
		if err := CheckPrincipal(p); err != nil {
			t.Errorf("CheckPrincipal(%q): %v", p, err)
		}
	}
	for _, p := range []string{"email:Alice@example.com", "email:*@*", "email:a*@example.com", "email:alice", "group:*", "group:", "alice@example.com", "arn:aws:iam::*:role/x"} {
		if err := CheckPrincipal(p); err == nil || ErrorCode(err) != EINVALID {
			t.Errorf("CheckPrincipal(%q) = %v, want EINVALID", p, err)
		}
	}
}

func TestSamePrincipal(t *testing.T) {
	const (
		ops      = "arn:aws:sts::123456789012:assumed-role/ops/alice"
		sso      = "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Approver_0123456789abcdef/alice@example.com"
		ssoOther = "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Approver_0123456789abcdef/bob@example.com"
	)
	// The Identity Center roles `orbit up` found on their path.
	identityCenter := []string{"arn:aws:iam::123456789012:role/AWSReservedSSO_Approver_0123456789abcdef"}
	for _, tt := range []struct {
		name string
		a, b string
		same bool
	}{
		{"one session", ops, ops, true},
		{"two sessions of one role: anyone who assumes it names the session", ops, "arn:aws:sts::123456789012:assumed-role/ops/bob", true},
		{"sessions of two roles", ops, "arn:aws:sts::123456789012:assumed-role/dev/alice", false},
		{"one role name in two accounts", ops, "arn:aws:sts::210987654321:assumed-role/ops/alice", false},
		{"two users of one Identity Center permission set", sso, ssoOther, false},
		{"two sessions of a role named like Identity Center's but not found on its path", "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Fake_0123/alice@example.com", "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Fake_0123/bob@example.com", true},
		{"one user of Identity Center, signed in twice", sso, sso, true},
		{"two IAM users", "arn:aws:iam::123456789012:user/alice", "arn:aws:iam::123456789012:user/bob", false},
		{"an IAM user and a session named after it", "arn:aws:iam::123456789012:user/alice", ops, false},
		{"two federated users of one account: whoever calls GetFederationToken names them", "arn:aws:sts::123456789012:federated-user/alice", "arn:aws:sts::123456789012:federated-user/bob", true},
		{"a federated user and an IAM user of its account, who may have made it", "arn:aws:sts::123456789012:federated-user/bob", "arn:aws:iam::123456789012:user/alice", true},
		{"a federated user and the root user of its account", "arn:aws:sts::123456789012:federated-user/bob", "arn:aws:iam::123456789012:root", true},
		{"federated users of two accounts", "arn:aws:sts::123456789012:federated-user/alice", "arn:aws:sts::210987654321:federated-user/alice", false},
		{"a federated user and an IAM user of another account", "arn:aws:sts::123456789012:federated-user/bob", "arn:aws:iam::210987654321:user/alice", false},
		{"a federated user and a role session of its account", "arn:aws:sts::123456789012:federated-user/bob", ops, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := SamePrincipal(tt.a, tt.b, identityCenter); got != tt.same {
				t.Errorf("SamePrincipal(%s, %s) = %v, want %v", tt.a, tt.b, got, tt.same)
			}
			if got := SamePrincipal(tt.b, tt.a, identityCenter); got != tt.same {
				t.Errorf("SamePrincipal(%s, %s) = %v, want %v", tt.b, tt.a, got, tt.same)
			}
		})
	}
}

package elevator

import (
	"strings"
	"testing"
)

func TestAccountCheck(t *testing.T) {
	role := "arn:aws:iam::111122223333:role/ops/elevator"
	for _, tt := range []struct {
		name string
		a    Account
		want string // "" = allowed
		acct string // Want()
	}{
		{"none", Account{}, "", ""},
		{"an id", Account{ID: "111122223333"}, "", "111122223333"},
		{"a role", Account{Role: role}, "", "111122223333"},
		{"both", Account{ID: "111122223333", Role: role, ExternalID: "ci-7f3a"}, "", "111122223333"},
		{"a GovCloud role", Account{Role: "arn:aws-us-gov:iam::111122223333:role/e"}, "", "111122223333"},
		{"a short id", Account{ID: "1111"}, "account.id", "1111"},
		{"a user for a role", Account{Role: "arn:aws:iam::111122223333:user/bob"}, "account.role", ""},
		{"a role of another account", Account{ID: "444455556666", Role: role}, "not in account.id 444455556666", "444455556666"},
		{"an external id alone", Account{ExternalID: "abc"}, "external_id without a role", ""},
		{"an external id without a role", Account{ID: "111122223333", ExternalID: "abc"}, "only used to assume a role", "111122223333"},
		{"an external id of one character", Account{Role: role, ExternalID: "a"}, "account.external_id", "111122223333"},
		{"an external id too long", Account{Role: role, ExternalID: strings.Repeat("a", 1225)}, "account.external_id", "111122223333"},
		{"an external id of 1224", Account{Role: role, ExternalID: strings.Repeat("a", 1224)}, "", "111122223333"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.a.Check()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Check: %v; want it allowed", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want) || ErrorCode(err) != EINVALID):
				t.Errorf("Check: %v; want an EINVALID error about %q", err, tt.want)
			}
			if got := tt.a.Want(); got != tt.acct {
				t.Errorf("Want() = %q, want %q", got, tt.acct)
			}
		})
	}
}

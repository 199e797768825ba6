package manifest

import (
	"strings"
	"testing"

	elevator "github.com/elevatorhq/elevator"
)

func TestParseOrbitAccount(t *testing.T) {
	src := "name: prod\nregions: {us-east-1: {}}\naccount:\n  id: \"111122223333\"\n  role: arn:aws:iam::111122223333:role/ops/elevator\n  external_id: ci-7f3a\n"
	o, err := ParseOrbit("orbit.yml", []byte(src))
	if err != nil {
		t.Fatalf("ParseOrbit: %v", err)
	}
	want := elevator.Account{ID: "111122223333", Role: "arn:aws:iam::111122223333:role/ops/elevator", ExternalID: "ci-7f3a", Path: "account"}
	if o.Account != want {
		t.Errorf("account %+v, want %+v", o.Account, want)
	}
	o, err = ParseOrbit("orbit.yml", []byte("name: prod\nregions: {us-east-1: {}}\naccount: {role: arn:aws:iam::111122223333:role/elevator}\n"))
	if err != nil {
		t.Fatalf("a role alone: %v", err)
	}
	if o.Account.Want() != "111122223333" {
		t.Errorf("a role alone: the account wanted is %q, want the role's account", o.Account.Want())
	}
	o, err = ParseOrbit("orbit.yml", []byte("name: prod\nregions: {us-east-1: {}}\n"))
	if err != nil || !o.Account.IsZero() {
		t.Errorf("no account section: %+v, %v; want the zero Account", o.Account, err)
	}
}

func TestParseOrbitBadAccount(t *testing.T) {
	for _, tt := range []struct {
		name, section string
		want          []string
	}{
		{"an id of 11 digits", "account: {id: \"11112222333\"}\n",
			[]string{`orbit.yml:3:15: account.id: "11112222333": `, "12"}},
		{"an id as a number", "account: {id: 111122223333}\n",
			[]string{`orbit.yml:3:15: account.id: `}},
		{"a user ARN for a role", "account: {role: \"arn:aws:iam::111122223333:user/bob\"}\n",
			[]string{`orbit.yml:3:17: account.role: "arn:aws:iam::111122223333:user/bob": `}},
		{"a role with a wildcard", "account: {role: \"arn:aws:iam::111122223333:role/*\"}\n",
			[]string{`orbit.yml:3:17: account.role: `}},
		{"a role of another partition", "account: {role: \"arn:aws-cn:iam::111122223333:role/e\"}\n",
			[]string{`orbit.yml:3:17: account.role: "arn:aws-cn:iam::111122223333:role/e": is a role of partition aws-cn, and the orbit's regions are in aws`}},
		{"a role of another account", "account:\n  id: \"111122223333\"\n  role: arn:aws:iam::444455556666:role/elevator\n",
			[]string{`orbit.yml:5:9: account.role: "arn:aws:iam::444455556666:role/elevator": is a role of account 444455556666, not of account.id 111122223333`}},
		{"an external id too short", "account: {role: \"arn:aws:iam::111122223333:role/e\", external_id: \"x\"}\n",
			[]string{`orbit.yml:3:66: account.external_id: "x": `, "2 to 1224"}},
		{"an external id with a space", "account: {role: \"arn:aws:iam::111122223333:role/e\", external_id: \"top secret\"}\n",
			[]string{`orbit.yml:3:66: account.external_id: "top secret": `}},
		{"an external id without a role", "account: {id: \"111122223333\", external_id: \"s3cr3t-value\"}\n",
			[]string{`orbit.yml:3:44: account.external_id: "s3cr3t-value": only used to assume a role`}},
		{"an empty section", "account: {}\n",
			[]string{`orbit.yml:3:10: account: `}},
		{"an unknown field", "account: {id: \"111122223333\", region: us-east-1}\n",
			[]string{`account.region`, "allowed here: external_id, id, role"}},
		{"a list", "account: [\"111122223333\"]\n",
			[]string{`orbit.yml:3:10: account: `}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseOrbit("orbit.yml", []byte("name: prod\nregions: {us-east-1: {}}\n"+tt.section))
			if err == nil {
				t.Fatal("accepted")
			}
			if code := elevator.ErrorCode(err); code != elevator.EINVALID {
				t.Errorf("code %s, want EINVALID: %v", code, err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n%v\nwant it to contain %q", err, w)
				}
			}
		})
	}
}

package iampolicy

import (
	"strings"
	"testing"

	elevator "github.com/elevatorhq/elevator"
)

func TestTheActionTableKnowsServicesAndActions(t *testing.T) {
	if n := len(services()); n < 300 {
		t.Fatalf("the table has %d services; the cfn-lint it comes from has over 400", n)
	}
	cases := []struct {
		service, action string
		want            bool
	}{
		{"s3", "GetObject", true},
		{"S3", "getobject", true},
		{"s3", "Get*", true},
		{"s3", "*Object", true},
		{"s3", "GetObjec?", true},
		{"s3", "GetObjects", false},
		{"s3", "Fly*", false},
		{"s3", "[a-z]*", false},
		{"sts", "AssumeRole", true},
		{"iam", "PassRole", true},
		{"s4", "GetObject", false},
	}
	for _, c := range cases {
		if got := ActionExists(c.service, c.action); got != c.want {
			t.Errorf("ActionExists(%q, %q) = %v; want %v", c.service, c.action, got, c.want)
		}
	}
}

func TestCheckNamesEachProblem(t *testing.T) {
	src := elevator.Source{File: "p.json", Positions: map[string]elevator.Pos{"": {Line: 1, Column: 1}}}
	stmt := func(kv ...any) map[string]any {
		m := map[string]any{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return map[string]any{"Version": "2012-10-17", "Statement": []any{m}}
	}
	cases := []struct {
		name  string
		doc   any
		kind  Kind
		admin bool
		want  string // "" = no problem
	}{
		{"a good identity policy", stmt("Effect", "Allow", "Action", "s3:GetObject", "Resource", "*"), Identity, false, ""},
		{"a good trust policy", stmt("Effect", "Allow", "Action", "sts:AssumeRole", "Principal", map[string]any{"Service": "ec2.amazonaws.com"}), Trust, false, ""},
		{"not a mapping", []any{"x"}, Identity, false, "want a policy document"},
		{"no Version", map[string]any{"Statement": []any{}}, Identity, false, "Version is missing"},
		{"an old Version as a number", map[string]any{"Version": int64(2012), "Statement": []any{}}, Identity, false, `want "2012-10-17"`},
		{"Action and NotAction", stmt("Effect", "Allow", "Action", "s3:GetObject", "NotAction", "s3:PutObject", "Resource", "*"), Identity, false, "Action or NotAction, not both"},
		{"an action without service", stmt("Effect", "Allow", "Action", "GetObject", "Resource", "*"), Identity, false, "want service:Action"},
		{"an action that is a number", stmt("Effect", "Allow", "Action", []any{int64(3)}, "Resource", "*"), Identity, false, "want a string"},
		{"a principal in an identity policy", stmt("Effect", "Allow", "Action", "s3:GetObject", "Resource", "*", "Principal", "*"), Identity, false, "has no Principal"},
		{"a resource in a trust policy", stmt("Effect", "Allow", "Action", "sts:AssumeRole", "Principal", "*", "Resource", "*"), Trust, false, "has no Resource"},
		{"an unknown principal kind", stmt("Effect", "Allow", "Action", "sts:AssumeRole", "Principal", map[string]any{"Person": "bob"}), Trust, false, "unknown kind of principal"},
		{"an unknown statement field", stmt("Effect", "Allow", "Action", "s3:GetObject", "Resource", "*", "Effects", "x"), Identity, false, "unknown field of a statement"},
		{"* on *", stmt("Effect", "Allow", "Action", "*", "Resource", "*"), Identity, false, "allows every action on every resource"},
		{"* on * allowed", stmt("Effect", "Allow", "Action", "*", "Resource", "*"), Identity, true, ""},
		{"* on one bucket", stmt("Effect", "Allow", "Action", "*", "Resource", "arn:aws:s3:::b"), Identity, false, ""},
		{"*:* denied", stmt("Effect", "Deny", "Action", "*:*", "Resource", "*"), Identity, false, ""},
		{"NotPrincipal in a trust policy", stmt("Effect", "Deny", "Action", "sts:AssumeRole", "Principal", map[string]any{"Service": "ec2.amazonaws.com"}, "NotPrincipal", map[string]any{"AWS": "arn:aws:iam::111122223333:root"}), Trust, false, "refuses NotPrincipal"},
		{"a CanonicalUser in a trust policy", stmt("Effect", "Allow", "Action", "sts:AssumeRole", "Principal", map[string]any{"CanonicalUser": "79a59df9"}), Trust, false, "refuses CanonicalUser"},
		{"a trust policy open to everyone", stmt("Effect", "Allow", "Action", "sts:AssumeRole", "Principal", "*"), Trust, false, "lets anyone"},
		{"a trust policy open to every AWS principal", stmt("Effect", "Allow", "Action", "sts:AssumeRole", "Principal", map[string]any{"AWS": []any{"arn:aws:iam::111122223333:root", "*"}}), Trust, false, "lets anyone"},
		{"a trust policy open to everyone with a condition", stmt("Effect", "Allow", "Action", "sts:AssumeRole", "Principal", "*", "Condition", map[string]any{"StringEquals": map[string]any{"aws:PrincipalOrgID": "o-a1b2c3"}}), Trust, false, ""},
		{"a trust policy open to everyone allowed", stmt("Effect", "Allow", "Action", "sts:AssumeRole", "Principal", "*"), Trust, true, ""},
		{"a trust policy allowing another action", stmt("Effect", "Allow", "Action", []any{"sts:AssumeRole", "s3:GetObject"}, "Principal", map[string]any{"Service": "ec2.amazonaws.com"}), Trust, false, "a trust policy allows only"},
		{"a trust policy allowing a session tag", stmt("Effect", "Allow", "Action", []any{"sts:AssumeRole", "sts:TagSession"}, "Principal", map[string]any{"Service": "ec2.amazonaws.com"}), Trust, false, ""},
		{"* on NotResource", stmt("Effect", "Allow", "Action", "*", "NotResource", "arn:aws:s3:::b"), Identity, false, "allows every action on every resource"},
		{"* on arn:*", stmt("Effect", "Allow", "Action", "*", "Resource", "arn:*"), Identity, false, "allows every action on every resource"},
		{"*:* on arn:aws:*:*:*:*", stmt("Effect", "Allow", "Action", "*:*", "Resource", []any{"arn:aws:*:*:*:*"}), Identity, false, "allows every action on every resource"},
		{"NotAction on *", stmt("Effect", "Allow", "NotAction", "iam:*", "Resource", "*"), Identity, false, "allows every action but those listed"},
		{"NotAction on one bucket", stmt("Effect", "Allow", "NotAction", "iam:*", "Resource", "arn:aws:s3:::b/*"), Identity, false, ""},
		{"* on every object of a bucket", stmt("Effect", "Allow", "Action", "*", "Resource", "arn:aws:s3:::b/*"), Identity, false, ""},
		{"a bad condition", stmt("Effect", "Allow", "Action", "s3:GetObject", "Resource", "*", "Condition", "x"), Identity, false, "want a mapping of condition operators"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			errs := Check(c.doc, src, "", c.kind, c.admin)
			switch {
			case c.want == "" && len(errs) > 0:
				t.Errorf("problems: %v", errs)
			case c.want != "" && !strings.Contains(errs.Error(), c.want):
				t.Errorf("problems: %v; want one saying %q", errs, c.want)
			}
		})
	}
}

func TestCanonicalIgnoresWhatIAMIgnores(t *testing.T) {
	a := map[string]any{"Version": "2012-10-17", "Statement": map[string]any{"Effect": "Allow", "Action": "s3:GetObject", "Resource": []any{"b", "a"}}}
	b := map[string]any{"Statement": []any{map[string]any{"Resource": []any{"a", "b", "a"}, "Action": []any{"s3:GetObject"}, "Effect": "Allow"}}, "Version": "2012-10-17"}
	if Canonical(a) != Canonical(b) {
		t.Errorf("\n%s\n%s", Canonical(a), Canonical(b))
	}
	c := map[string]any{"Statement": []any{map[string]any{"Resource": []any{"a"}, "Action": []any{"s3:GetObject"}, "Effect": "Allow"}}, "Version": "2012-10-17"}
	if Canonical(a) == Canonical(c) {
		t.Error("documents with different resources compare equal")
	}
}

// FuzzCheck: any JSON document is checked and put in canonical form
// without a panic, and a document Check accepts encodes and decodes to
// the same canonical form.
func FuzzCheck(f *testing.F) {
	f.Add(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:Get*"],"Resource":"*","Condition":{"Bool":{"aws:SecureTransport":true}}}]}`)
	f.Add(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"AWS":["arn:aws:iam::111122223333:root"]}}}`)
	f.Add(`[1, {"Statement": null}]`)
	src := elevator.Source{File: "p.json", Positions: map[string]elevator.Pos{}}
	f.Fuzz(func(t *testing.T, s string) {
		doc, err := Decode(s)
		if err != nil {
			return
		}
		for _, kind := range []Kind{Identity, Trust} {
			if len(Check(doc, src, "", kind, false)) > 0 {
				continue
			}
			enc, err := Encode(doc)
			if err != nil {
				t.Fatalf("encode an accepted document: %v", err)
			}
			back, err := Decode(enc)
			if err != nil || Canonical(back) != Canonical(doc) {
				t.Fatalf("round trip of %s: %v\n%s\n%s", enc, err, Canonical(back), Canonical(doc))
			}
		}
	})
}

func TestActionErrorsPointAtTheirOwnListItem(t *testing.T) {
	src := elevator.Source{File: "p.json", Positions: map[string]elevator.Pos{}}
	doc := map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{"Effect": "Allow", "Action": []any{int64(7), "s3:Nope"}, "Resource": "*"}}}
	errs := Check(doc, src, "", Identity, false)
	var paths []string
	for _, e := range errs {
		paths = append(paths, e.Path+": "+e.Message)
	}
	got := strings.Join(paths, "\n")
	if !strings.Contains(got, "Statement[0].Action[0]: want a string") || !strings.Contains(got, `Statement[0].Action[1]: s3 has no action matching "Nope"`) {
		t.Errorf("problems:\n%s\nwant Action[0] not a string and Action[1] unknown", got)
	}
}

func TestNumbersAndAccountRootsCompareAsIAMReturnsThem(t *testing.T) {
	mine := map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{"Effect": "Allow", "Action": "sts:AssumeRole",
		"Principal": map[string]any{"AWS": "111122223333"},
		"Condition": map[string]any{"StringEquals": map[string]any{"aws:PrincipalAccount": int64(111122223333)}, "NumericLessThan": map[string]any{"s3:max-keys": "10"}}}}}
	theirs, err := Decode(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Condition":{"StringEquals":{"aws:PrincipalAccount":111122223333},"NumericLessThan":{"s3:max-keys":10}}}]}`)
	if err != nil {
		t.Fatal(err)
	}
	if Canonical(theirs) != Canonical(mine) {
		t.Errorf("canonical forms differ:\n%s\n%s", Canonical(theirs), Canonical(mine))
	}
	other, _ := Decode(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"AWS":"arn:aws:iam::444455556666:root"},"Condition":{"StringEquals":{"aws:PrincipalAccount":111122223333},"NumericLessThan":{"s3:max-keys":10}}}]}`)
	if Canonical(other) == Canonical(mine) {
		t.Error("principals of different accounts compare equal")
	}
}

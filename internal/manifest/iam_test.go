package manifest

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/iampolicy"
)

const goodIAM = `path: /elevator-iam/
policies:
  - name: read-logs
    description: read the logs
    document:
      Version: 2012-10-17
      Statement:
        - Effect: Allow
          Action: [logs:Get*, logs:DescribeLogGroups]
          Resource: "*"
  - name: from-file
    file: policies/from-file.json
groups:
  - name: developers
    policies: [read-logs, arn:aws:iam::aws:policy/ReadOnlyAccess]
    inline:
      s3-read: {Version: "2012-10-17", Statement: [{Effect: Allow, Action: s3:GetObject, Resource: "arn:aws:s3:::b/*"}]}
users:
  - name: alice
    groups: [developers]
    policies: [from-file]
roles:
  - name: ci
    description: CI
    max_session: 4h
    trust:
      Version: "2012-10-17"
      Statement:
        - Effect: Allow
          Principal: {Service: ec2.amazonaws.com}
          Action: sts:AssumeRole
`

const fromFileJSON = `{
  "Version": "2012-10-17",
  "Statement": [{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"}]
}
`

func readFrom(files map[string]string) func(string) ([]byte, error) {
	return func(p string) ([]byte, error) {
		if s, ok := files[filepath.ToSlash(p)]; ok {
			return []byte(s), nil
		}
		return nil, &os.PathError{Op: "open", Path: p, Err: os.ErrNotExist}
	}
}

func TestParseIAMReadsEveryKindOfObject(t *testing.T) {
	f, err := ParseIAM("iam/iam.yml", []byte(goodIAM), readFrom(map[string]string{"iam/policies/from-file.json": fromFileJSON}))
	if err != nil {
		t.Fatal(err)
	}
	if f.Path != "/elevator-iam/" || len(f.Policies) != 2 || len(f.Groups) != 1 || len(f.Users) != 1 || len(f.Roles) != 1 {
		t.Fatalf("parsed %+v", f)
	}
	if f.Roles[0].MaxSession != 4*time.Hour || f.Roles[0].Description != "CI" {
		t.Errorf("role = %+v", f.Roles[0])
	}
	if got := f.Policies[1].Document.(map[string]any)["Version"]; got != "2012-10-17" {
		t.Errorf("policy from a file: Version = %v", got)
	}
	if f.Users[0].Groups[0] != "developers" || f.Groups[0].Policies[1] != "arn:aws:iam::aws:policy/ReadOnlyAccess" {
		t.Errorf("references: %+v %+v", f.Users[0], f.Groups[0])
	}
}

func TestParseIAMReportsEachProblemAtItsPosition(t *testing.T) {
	cases := []struct {
		name, yaml string
		files      map[string]string
		want       string // one line of the error
	}{
		{"an action its service does not have", strings.Replace(goodIAM, "logs:DescribeLogGroups", "logs:DescribeLogGroupz", 1), nil,
			`iam.yml:9:31: policies[0].document.Statement[0].Action[1]: "logs:DescribeLogGroupz": logs has no action matching "DescribeLogGroupz"`},
		{"a service that does not exist", strings.Replace(goodIAM, "s3:GetObject", "s4:GetObject", 1), nil,
			`iam.yml:17:76: groups[0].inline.s3-read.Statement[0].Action: "s4:GetObject": no AWS service has the prefix "s4"`},
		{"everything allowed without allow_admin", strings.Replace(goodIAM, "[logs:Get*, logs:DescribeLogGroups]", `"*:*"`, 1), nil,
			`iam.yml:9:19: policies[0].document.Statement[0].Action: "*:*": allows every action on every resource; set allow_admin: true in the file to allow it`},
		{"a trust without principal", strings.Replace(goodIAM, "          Principal: {Service: ec2.amazonaws.com}\n", "", 1), nil,
			`iam.yml:29:11: roles[0].trust.Statement[0]: Principal is missing`},
		{"an identity policy without resource", strings.Replace(goodIAM, "          Resource: \"*\"\n", "", 1), nil,
			`iam.yml:8:11: policies[0].document.Statement[0]: Resource is missing`},
		{"a bad Effect", strings.Replace(goodIAM, "Effect: Allow\n          Action: [", "Effect: allow\n          Action: [", 1), nil,
			`iam.yml:8:19: policies[0].document.Statement[0].Effect: "allow": want Allow or Deny`},
		{"an unknown policy name", strings.Replace(goodIAM, "policies: [from-file]", "policies: [from-fil]", 1), nil,
			`iam.yml:21:16: users[0].policies[0]: "from-fil": no policy of this name`},
		{"an unknown group", strings.Replace(goodIAM, "groups: [developers]", "groups: [devs]", 1), nil,
			`iam.yml:20:14: users[0].groups[0]: "devs": no group of this name`},
		{"max_session too long", strings.Replace(goodIAM, "4h", "13h", 1), nil,
			`iam.yml:25:18: roles[0].max_session: "13h": want whole seconds from 1h to 12h`},
		{"bad JSON in a policy file", goodIAM, map[string]string{"iam/policies/from-file.json": "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [{\"Effect\": \"Allow\",}\n}\n"},
			`iam/policies/from-file.json:4:1: invalid YAML: did not find expected ',' or ']'`},
		{"an unknown action in a policy file", goodIAM, map[string]string{"iam/policies/from-file.json": strings.Replace(fromFileJSON, "sqs:SendMessage", "sqs:SendMessages", 1)},
			`iam/policies/from-file.json:3:47: Statement[0].Action: "sqs:SendMessages": sqs has no action matching "SendMessages"`},
		{"a missing policy file", goodIAM, map[string]string{},
			`iam.yml:12:11: policies[1].file: "policies/from-file.json": cannot read the policy file`},
		{"a name twice", goodIAM + "  - name: ci\n    trust: {Version: \"2012-10-17\", Statement: [{Effect: Allow, Principal: \"*\", Action: sts:AssumeRole}]}\n", nil,
			`iam.yml:32:11: roles[1].name: "ci": a second role of this name (the first is at iam/iam.yml:23:11)`},
		{"an ARN under the files' own path", strings.Replace(goodIAM, "policies: [from-file]", "policies: [\"arn:aws:iam::111122223333:policy/elevator-iam/from-file\"]", 1), nil,
			`iam.yml:21:16: users[0].policies[0]: "arn:aws:iam::111122223333:policy/elevator-iam/from-file": is under the files' path /elevator-iam/`},
		{"a managed policy over IAM's limit", goodIAM, map[string]string{"iam/policies/from-file.json": strings.Replace(fromFileJSON, `"Resource": "*"`, `"Resource": ["arn:aws:s3:::`+strings.Repeat("b", 6200)+`"]`, 1)},
			`iam.yml:11:11: policies[1].name: "from-file": the policy is 6`},
		{"a user's inline policies over IAM's limit", strings.Replace(goodIAM, "    policies: [from-file]\n", "    policies: [from-file]\n    inline:\n      big: {Version: \"2012-10-17\", Statement: [{Effect: Allow, Action: s3:GetObject, Resource: \"arn:aws:s3:::"+strings.Repeat("b", 2100)+"\"}]}\n", 1), nil,
			`iam.yml:22:5: users[0].inline: the user's inline policies are 2`},
		{"the path of Elevator's own roles", strings.Replace(goodIAM, "path: /elevator-iam/", "path: "+elevator.IAMElevatorPath, 1), nil,
			`iam.yml:1:7: path: "` + elevator.IAMElevatorPath + `": is under ` + elevator.IAMElevatorPath + `, which holds Elevator's orbits' roles`},
		{"a path under an orbit's", strings.Replace(goodIAM, "path: /elevator-iam/", "path: "+elevator.OrbitPath("prod"), 1), nil,
			`iam.yml:1:7: path: "` + elevator.OrbitPath("prod") + `": is under ` + elevator.IAMElevatorPath},
		{"a path under AWS's service roles", strings.Replace(goodIAM, "path: /elevator-iam/", "path: /aws-service-role/x/", 1), nil,
			`iam.yml:1:7: path: "/aws-service-role/x/": is under /aws-service-role/, which holds AWS's own roles`},
		{"a path of the console's service roles", strings.Replace(goodIAM, "path: /elevator-iam/", "path: /service-role/", 1), nil,
			`iam.yml:1:7: path: "/service-role/": is under /service-role/`},
		{"a name twice in two cases", strings.Replace(goodIAM, "  - name: ci\n", "  - name: CI\n    trust: {Version: \"2012-10-17\", Statement: [{Effect: Allow, Principal: {Service: ec2.amazonaws.com}, Action: sts:AssumeRole}]}\n  - name: ci\n", 1), nil,
			`iam.yml:25:11: roles[1].name: "ci": a second role of this name (the first is at iam/iam.yml:23:11); IAM names are unique in an account, upper and lower case alike`},
		{"a trust policy over IAM's limit", strings.Replace(goodIAM, "Principal: {Service: ec2.amazonaws.com}", "Principal: {Service: ["+strings.Repeat("ec2.amazonaws.com, ", 110)+"ec2.amazonaws.com]}", 1), nil,
			`iam.yml:26:5: roles[0].trust: the trust policy is 2`},
		{"an unknown field", strings.Replace(goodIAM, "path:", "paths:", 1), nil,
			`iam.yml:1:1: paths: unknown field "paths"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			files := c.files
			if files == nil {
				files = map[string]string{"iam/policies/from-file.json": fromFileJSON}
			}
			_, err := ParseIAM("iam/iam.yml", []byte(c.yaml), readFrom(files))
			var fe elevator.FieldErrors
			if !errors.As(err, &fe) {
				t.Fatalf("err = %v; want field errors", err)
			}
			if elevator.ErrorCode(err) != elevator.EINVALID {
				t.Errorf("code = %s; want EINVALID", elevator.ErrorCode(err))
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("errors:\n%v\nwant a line containing:\n%s", err, c.want)
			}
		})
	}
}

func TestParseIAMAllowsAdminWhenTheFileSaysSo(t *testing.T) {
	yml := strings.Replace(goodIAM, "[logs:Get*, logs:DescribeLogGroups]", `"*"`, 1)
	files := readFrom(map[string]string{"iam/policies/from-file.json": fromFileJSON})
	if _, err := ParseIAM("iam/iam.yml", []byte(yml), files); err == nil {
		t.Fatal("an admin policy was accepted without allow_admin")
	}
	if _, err := ParseIAM("iam/iam.yml", []byte("allow_admin: true\n"+yml), files); err != nil {
		t.Fatal(err)
	}
}

func TestReadIAMMergesTheFilesOfADirectory(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a.yml", goodIAM)
	write("policies/from-file.json", fromFileJSON)
	write("b.yaml", "path: /elevator-iam/\nusers:\n  - name: bob\n    groups: [developers]\n")
	f, err := ReadIAM([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Users) != 2 || f.Users[1].Name != "bob" || len(f.Sources) != 2 {
		t.Fatalf("merged users %+v from %d files", f.Users, len(f.Sources))
	}
	write("b.yaml", "path: /other/\nusers:\n  - name: alice\n")
	_, err = ReadIAM([]string{dir})
	for _, want := range []string{"b.yaml:1:7: path: \"/other/\": differs from path written at " + filepath.Join(dir, "a.yml") + ":1:7", "b.yaml:3:11: users[0].name: \"alice\": a second user"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v; want %s", err, want)
		}
	}
}

func TestParseIAMKeepsNumbersOfPoliciesAsWritten(t *testing.T) {
	yml := strings.Replace(goodIAM, "          Principal: {Service: ec2.amazonaws.com}\n", "          Principal: {AWS: 012345678901}\n          Condition: {StringEquals: {aws:PrincipalAccount: 012345678901}, NumericLessThan: {s3:max-keys: 1.50}}\n", 1)
	f, err := ParseIAM("iam/iam.yml", []byte(yml), readFrom(map[string]string{"iam/policies/from-file.json": fromFileJSON}))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := iampolicy.Encode(f.Roles[0].Trust)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"Principal":{"AWS":"012345678901"}`, `"aws:PrincipalAccount":"012345678901"`, `"s3:max-keys":"1.50"`} {
		if !strings.Contains(doc, want) {
			t.Errorf("trust sent to IAM: %s; want %s", doc, want)
		}
	}
}

func TestReadIAMUsersReadsNoPolicy(t *testing.T) {
	dir := t.TempDir()
	// An unknown action and a missing policy file: plan refuses them,
	// keys reads the users all the same.
	bad := strings.Replace(goodIAM, "logs:DescribeLogGroups", "logs:Nope", 1)
	if err := os.WriteFile(filepath.Join(dir, "iam.yml"), []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadIAM([]string{dir}); err == nil {
		t.Fatal("ReadIAM accepted an unknown action and a missing policy file")
	}
	f, err := ReadIAMUsers([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Users) != 1 || f.Users[0].Name != "alice" || f.Path != "/elevator-iam/" {
		t.Errorf("users %+v under %s; want alice under /elevator-iam/", f.Users, f.Path)
	}
}

// FuzzParseIAM: any file parses without a panic, to a file or field
// errors; each document of an accepted file encodes to JSON and decodes
// (as IAM returns it) to the same canonical form.
func FuzzParseIAM(f *testing.F) {
	f.Add([]byte(strings.Replace(goodIAM, "          Principal: {Service: ec2.amazonaws.com}\n", "          Principal: {AWS: 012345678901}\n          Condition: {NumericEquals: {aws:MultiFactorAuthAge: [3600, 1.5e3, 0x10]}, Bool: {aws:SecureTransport: true}}\n", 1)))
	f.Add([]byte(goodIAM))
	f.Add([]byte(fromFileJSON))
	f.Add([]byte("path: /x/\nroles: [{name: r, trust: {Statement: {Principal: {AWS: [1, {}]}, Condition: []}}}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		read := func(string) ([]byte, error) { return data, nil }
		file, err := ParseIAM("iam.yml", data, read)
		if err == nil && file == nil {
			t.Fatal("no file and no error")
		}
		if err != nil {
			var fe elevator.FieldErrors
			if !errors.As(err, &fe) {
				t.Fatalf("err = %v (%T); want field errors", err, err)
			}
			return
		}
		var docs []any
		for _, p := range file.Policies {
			docs = append(docs, p.Document)
		}
		for _, r := range file.Roles {
			docs = append(docs, r.Trust)
			for _, d := range r.Inline {
				docs = append(docs, d)
			}
		}
		for _, g := range file.Groups {
			for _, d := range g.Inline {
				docs = append(docs, d)
			}
		}
		for _, u := range file.Users {
			for _, d := range u.Inline {
				docs = append(docs, d)
			}
		}
		for _, doc := range docs {
			enc, err := iampolicy.Encode(doc)
			if err != nil {
				t.Fatalf("encode an accepted document: %v", err)
			}
			back, err := iampolicy.Decode(enc)
			if err != nil || iampolicy.Canonical(back) != iampolicy.Canonical(doc) {
				t.Fatalf("round trip of %s: %v\n%s\n%s", enc, err, iampolicy.Canonical(back), iampolicy.Canonical(doc))
			}
		}
	})
}

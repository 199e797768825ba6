package compile

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	elevator "github.com/elevatorhq/elevator"
)

// encodingJSON is what encoding/json writes for v, as a template body is
// written: HTML escaping off, no trailing newline.
func encodingJSON(t *testing.T, v any) string {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

type severityName string

func TestTemplateJSONIsWhatEncodingJSONWrites(t *testing.T) {
	tests := []struct {
		name  string
		value any
	}{
		{name: "plain text", value: "vpc-0123 10.0.0.0/16"},
		{name: "quotes and backslashes are escaped", value: `say "hi" \ C:\path`},
		{name: "control characters are escaped", value: "a\x00b\x01c\x1fd\be\ff\ng\rh\ti\x7f"},
		{name: "HTML characters are left alone", value: "<script>&amp;</script>"},
		{name: "non-ASCII text is written as is", value: "zürich 東京 🚀"},
		{name: "invalid UTF-8 becomes the replacement character", value: "a\xffb\xc3"},
		{name: "line and paragraph separators are escaped", value: "a\u2028b\u2029c"},
		{name: "user data with a shell script", value: Sub("#!/bin/bash\nset -eu\necho \"${AWS::Region}\" > /tmp/region\t# done\n")},
		{name: "numbers and booleans", value: []any{0, -1, 65535, true, false, nil}},
		{name: "nested objects are written with sorted keys", value: Props{"b": Props{"z": 1, "a": []string{"x", "y"}}, "a": map[string]string{"k2": "v", "k1": "w"}, "A": "upper"}},
		{name: "empty and nil collections", value: Props{"e": Props{}, "n": Props(nil), "s": []string{}, "ns": []string(nil), "a": []any{}, "na": []any(nil), "m": map[string]string{}, "nm": map[string]string(nil), "t": []Tag(nil)}},
		{name: "tags", value: []Tag{{Key: elevator.TagOrbit, Value: "prod"}, {Key: "Name", Value: `a "b"`}}},
		{name: "intrinsics", value: Join(",", []any{Ref("Vpc"), GetAtt("Vpc", "CidrBlock"), Sub("${AWS::StackName}-x")})},
		{name: "other types go through encoding/json", value: []any{severityName("critical"), 1.5, []Props{{"Ref": "X"}}, map[string]int{"b": 2, "a": 1}, int64(7)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tpl := &Template{
				AWSTemplateFormatVersion: "2010-09-09",
				Resources:                map[string]Resource{"R": {Type: "AWS::S3::Bucket", Properties: Props{"Value": tt.value}}},
				Outputs:                  map[string]Output{"O": {Value: tt.value}},
			}
			got, err := tpl.JSON()
			if err != nil {
				t.Fatal(err)
			}
			if want := encodingJSON(t, tpl); string(got) != want {
				t.Errorf("JSON =\n%s\nwant\n%s", got, want)
			}
		})
	}
}

func TestTemplateJSONWritesEveryField(t *testing.T) {
	tests := []struct {
		name string
		tpl  *Template
	}{
		{name: "an empty template", tpl: &Template{}},
		{name: "a template with every field set", tpl: &Template{
			AWSTemplateFormatVersion: "2010-09-09",
			Description:              "Elevator orbit prod",
			Parameters: map[string]Parameter{
				"Zones":  {Type: "CommaDelimitedList", Description: "the zones"},
				"Bucket": {Type: "String"},
			},
			Resources: map[string]Resource{
				"Table": {Type: "AWS::DynamoDB::Table", DependsOn: []string{"Vpc", "Bucket"}, DeletionPolicy: "Retain", UpdateReplacePolicy: "Retain", Properties: Props{"TableName": "t"}},
				"Vpc":   {Type: "AWS::EC2::VPC"},
				"Empty": {Type: "AWS::SNS::Topic", DependsOn: []string{}, Properties: Props{}},
			},
			Outputs: map[string]Output{
				"VpcId":  {Description: "the VPC", Value: Ref("Vpc"), Export: &Export{Name: Sub("${AWS::StackName}-VpcId")}},
				"Plain":  {Value: "x"},
				"Absent": {},
			},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.tpl.JSON()
			if err != nil {
				t.Fatal(err)
			}
			if want := encodingJSON(t, tt.tpl); string(got) != want {
				t.Errorf("JSON =\n%s\nwant\n%s", got, want)
			}
		})
	}
}

func TestTemplateJSONReportsWhatCannotBeEncoded(t *testing.T) {
	tpl := &Template{Resources: map[string]Resource{"R": {Type: "T", Properties: Props{"F": func() {}}}}}
	if _, err := tpl.JSON(); err == nil || !strings.Contains(err.Error(), "encode template as JSON") {
		t.Errorf("error = %v, want one saying the template cannot be encoded as JSON", err)
	}
}

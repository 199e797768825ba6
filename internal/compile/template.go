package compile

import (
	"bytes"
	"fmt"

	elevator "github.com/elevatorhq/elevator"
	yaml "go.yaml.in/yaml/v4"
)

// MaxBodyBytes is the largest template body CloudFormation accepts inline
// (TemplateBody); a larger one would have to go through S3.
const MaxBodyBytes = 51_200

// MaxResources is the most resources CloudFormation accepts in a template.
const MaxResources = 500

// Template is a CloudFormation template: the part of the format Elevator
// writes. Maps marshal with sorted keys, so a template always encodes to the
// same bytes.
type Template struct {
	AWSTemplateFormatVersion string               `yaml:"AWSTemplateFormatVersion" json:"AWSTemplateFormatVersion"`
	Description              string               `yaml:"Description,omitempty" json:"Description,omitempty"`
	Parameters               map[string]Parameter `yaml:"Parameters,omitempty" json:"Parameters,omitempty"`
	Resources                map[string]Resource  `yaml:"Resources" json:"Resources"`
	Outputs                  map[string]Output    `yaml:"Outputs,omitempty" json:"Outputs,omitempty"`
}

// Parameter is a template parameter. Elevator passes every parameter's value
// explicitly, so parameters have no defaults.
type Parameter struct {
	Type        string `yaml:"Type" json:"Type"`
	Description string `yaml:"Description,omitempty" json:"Description,omitempty"`
}

// Resource is one resource of a template.
type Resource struct {
	Type                string   `yaml:"Type" json:"Type"`
	DependsOn           []string `yaml:"DependsOn,omitempty" json:"DependsOn,omitempty"`
	DeletionPolicy      string   `yaml:"DeletionPolicy,omitempty" json:"DeletionPolicy,omitempty"`
	UpdateReplacePolicy string   `yaml:"UpdateReplacePolicy,omitempty" json:"UpdateReplacePolicy,omitempty"`
	Properties          Props    `yaml:"Properties,omitempty" json:"Properties,omitempty"`
}

// Props are a resource's properties, or any nested object of them.
type Props = map[string]any

// Output is a template output; exported outputs can be imported by other
// stacks of the same region.
type Output struct {
	Description string  `yaml:"Description,omitempty" json:"Description,omitempty"`
	Value       any     `yaml:"Value" json:"Value"`
	Export      *Export `yaml:"Export,omitempty" json:"Export,omitempty"`
}

// Export names an exported output.
type Export struct {
	Name any `yaml:"Name" json:"Name"`
}

// Tag is a resource tag, as most resource types take them.
type Tag struct {
	Key   string `yaml:"Key" json:"Key"`
	Value string `yaml:"Value" json:"Value"`
}

// Ref returns the intrinsic {"Ref": name}: a parameter's value or a
// resource's primary identifier.
func Ref(name string) any { return Props{"Ref": name} }

// GetAtt returns the intrinsic {"Fn::GetAtt": [resource, attribute]}.
func GetAtt(resource, attribute string) any {
	return Props{"Fn::GetAtt": []any{resource, attribute}}
}

// Sub returns the intrinsic {"Fn::Sub": format}.
func Sub(format string) any { return Props{"Fn::Sub": format} }

// Join returns the intrinsic {"Fn::Join": [sep, values]}.
func Join(sep string, values []any) any { return Props{"Fn::Join": []any{sep, values}} }

// Encode returns the body to send to CloudFormation for t: compact JSON,
// which CloudFormation reads as it reads YAML, and which is smaller than
// YAML and far cheaper to write. People read templates as YAML (see YAML).
// It returns an *elevator.Error with code EINVALID when t has more than
// MaxResources resources or the body is over MaxBodyBytes, and EINTERNAL
// when t cannot be encoded.
func (t *Template) Encode() ([]byte, error) {
	if n := len(t.Resources); n > MaxResources {
		return nil, elevator.Errorf(elevator.EINVALID, "the template has %d resources, over CloudFormation's %d; use fewer tiers or zones", n, MaxResources)
	}
	body, err := t.JSON()
	if err != nil {
		return nil, err
	}
	if len(body) > MaxBodyBytes {
		return nil, elevator.Errorf(elevator.EINVALID, "the template is %d bytes as compact JSON, over CloudFormation's %d-byte limit; use fewer tiers or zones", len(body), MaxBodyBytes)
	}
	return body, nil
}

// JSON returns t as compact JSON with every object's keys sorted: the bytes
// encoding/json writes for t with HTML escaping off. It returns an
// *elevator.Error with code EINTERNAL when t cannot be encoded.
func (t *Template) JSON() ([]byte, error) {
	w := jsonWriters.Get().(*jsonWriter)
	defer func() {
		w.buf, w.err = w.buf[:0], nil
		jsonWriters.Put(w)
	}()
	w.template(t)
	if w.err != nil {
		return nil, &elevator.Error{Code: elevator.EINTERNAL, Message: "encode template as JSON", Err: w.err}
	}
	return bytes.Clone(w.buf), nil
}

// YAML returns t as YAML indented by two spaces, with every mapping's keys
// sorted: the template for people to read, as the golden files hold it. It returns an *elevator.Error with code EINTERNAL when t cannot be
// encoded.
func (t *Template) YAML() ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(t); err != nil {
		return nil, &elevator.Error{Code: elevator.EINTERNAL, Message: "encode template as YAML", Err: err}
	}
	if err := enc.Close(); err != nil {
		return nil, &elevator.Error{Code: elevator.EINTERNAL, Message: "encode template as YAML", Err: err}
	}
	return buf.Bytes(), nil
}

// add puts a resource in t. Two resources with one logical ID is a bug in the
// compiler, never in a manifest, so it panics.
func (t *Template) add(id string, r Resource) {
	if _, dup := t.Resources[id]; dup {
		panic(fmt.Sprintf("compile: two resources with logical ID %s", id))
	}
	t.Resources[id] = r
}

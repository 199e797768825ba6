// Package schemas holds the JSON Schemas of Elevator's manifests. The files
// are committed so that editors with yaml-language-server complete and check
// manifests; `elevator schema NAME` prints them, and the manifest parser
// validates against the same bytes.
package schemas

import _ "embed"

// Orbit is the JSON Schema of orbit.yml.
//
//go:embed orbit.schema.json
var Orbit []byte

// App is the JSON Schema of app.yml.
//
//go:embed app.schema.json
var App []byte

// Image is the JSON Schema of image.yml.
//
//go:embed image.schema.json
var Image []byte

// IAM is the JSON Schema of an IAM file (iam.yml).
//
//go:embed iam.schema.json
var IAM []byte

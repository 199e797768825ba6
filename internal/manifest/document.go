// Package manifest reads Elevator's YAML manifests: it parses them keeping
// the position of every field, validates them against the JSON Schemas in
// /schemas, checks what a schema cannot say (overlapping CIDRs, unknown
// regions, duplicate names), and returns the domain types with defaults
// applied. Every problem is an elevator.FieldError with file:line:column, and
// all problems of a file are reported at once.
package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	elevator "github.com/elevatorhq/elevator"
	yaml "go.yaml.in/yaml/v4"
)

// maxNodes bounds how many YAML nodes a document may expand to, aliases
// included, so that a small file of nested aliases cannot exhaust memory.
const maxNodes = 100_000

// MaxBytes is the largest manifest Elevator reads: far above any real one,
// and small enough that reading one costs little memory.
const MaxBytes = 1 << 20

// ReadFile reads a manifest file, refusing one larger than MaxBytes
// without reading it all. It returns an EINVALID error naming the file and
// the limit, or the error of opening or reading it.
func ReadFile(file string) ([]byte, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxBytes {
		return nil, elevator.FieldErrors{tooLarge(file)}
	}
	return data, nil
}

func tooLarge(file string) *elevator.FieldError {
	return &elevator.FieldError{File: file, Pos: elevator.Pos{Line: 1, Column: 1},
		Message: fmt.Sprintf("the manifest is larger than %d bytes (1 MiB), the most Elevator reads", MaxBytes)}
}

// document is a parsed YAML file: its plain value (maps, slices, strings,
// numbers, bools, nil — what a JSON Schema validator takes) and where each
// field path came from.
type document struct {
	value  any
	source elevator.Source
	errs   elevator.FieldErrors
	nodes  int
	// keys lists each mapping's keys in file order, by field path.
	keys map[string][]string
	// numbers holds the text of each number as written, by field path:
	// 012345678901 is the number 12345678901 once read.
	numbers map[string]string
}

// parseDocument parses a file of one YAML document. A file over MaxBytes,
// syntax errors, a second document, duplicate keys, non-string keys and
// merge keys are reported as field errors.
func parseDocument(file string, data []byte) *document {
	d := &document{source: elevator.Source{File: file, Positions: map[string]elevator.Pos{}}, keys: map[string][]string{}, numbers: map[string]string{}}
	if len(data) > MaxBytes {
		d.errs = append(d.errs, tooLarge(file))
		return d
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var root yaml.Node
	if err := dec.Decode(&root); err != nil && !errors.Is(err, io.EOF) {
		d.errs = append(d.errs, syntaxError(file, err))
		return d
	}
	if root.Kind == 0 || len(root.Content) == 0 {
		d.errs = append(d.errs, &elevator.FieldError{File: file, Pos: elevator.Pos{Line: 1, Column: 1}, Message: "the file is empty; it must be a YAML mapping"})
		return d
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == nil:
		at := elevator.Pos{Line: 1, Column: 1}
		if len(next.Content) > 0 {
			at = pos(next.Content[0])
		}
		d.errs = append(d.errs, &elevator.FieldError{File: file, Pos: at,
			Message: "a second YAML document: a manifest is one document; put the second in a file of its own"})
		return d
	case !errors.Is(err, io.EOF):
		d.errs = append(d.errs, syntaxError(file, err))
		return d
	}
	top := root.Content[0]
	d.source.Positions[""] = pos(top)
	d.value = d.convert(top, "", 0)
	return d
}

func pos(n *yaml.Node) elevator.Pos { return elevator.Pos{Line: n.Line, Column: n.Column} }

// syntaxError turns a YAML library error into a positioned field error:
// where the parser stopped, and what it was reading, from where.
func syntaxError(file string, err error) *elevator.FieldError {
	at := elevator.Pos{Line: 1, Column: 1}
	msg := err.Error()
	var le *yaml.LoadError
	if errors.As(err, &le) {
		msg = le.Message
		if le.Mark.Line > 0 {
			at = elevator.Pos{Line: le.Mark.Line, Column: max(le.Mark.Column, 1)}
		}
		if le.ContextMsg != "" && le.ContextMark.Line > 0 {
			msg += fmt.Sprintf(" (%s that began at line %d, column %d)", le.ContextMsg, le.ContextMark.Line, le.ContextMark.Column)
		}
	}
	return &elevator.FieldError{File: file, Pos: at, Message: "invalid YAML: " + msg}
}

func (d *document) errorf(n *yaml.Node, path string, format string, args ...any) {
	d.errs = append(d.errs, &elevator.FieldError{File: d.source.File, Pos: pos(n), Path: path, Message: fmt.Sprintf(format, args...)})
}

// convert turns a node into a plain value, recording positions. A field's
// position is its value's when the value is a scalar or a flow collection,
// and its key's when the value is a block below the key.
func (d *document) convert(n *yaml.Node, path string, depth int) any {
	d.nodes++
	if d.nodes > maxNodes || depth > 100 {
		if d.nodes == maxNodes+1 || depth == 101 {
			d.errorf(n, path, "the document is too large or too deeply nested (aliases included)")
		}
		return nil
	}
	switch n.Kind {
	case yaml.AliasNode:
		return d.convert(n.Alias, path, depth+1)
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		keyPos := map[string]*yaml.Node{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
				d.errorf(k, path, "merge keys (<<) are not supported; repeat the fields instead")
				continue
			}
			if k.Kind != yaml.ScalarNode || (k.Tag != "!!str" && k.Tag != "!!int" && k.Tag != "!!float" && k.Tag != "!!bool") {
				d.errorf(k, path, "a key must be a plain string")
				continue
			}
			child := childPath(path, k.Value)
			if first, dup := keyPos[k.Value]; dup {
				d.errorf(k, child, "duplicate key %q (first at line %d, column %d)", k.Value, first.Line, first.Column)
				continue
			}
			keyPos[k.Value] = k
			d.keys[path] = append(d.keys[path], k.Value)
			if v.Kind == yaml.ScalarNode || v.Kind == yaml.AliasNode || v.Style&yaml.FlowStyle != 0 {
				d.source.Positions[child] = pos(v)
			} else {
				d.source.Positions[child] = pos(k)
			}
			d.source.Positions[child+"#key"] = pos(k)
			m[k.Value] = d.convert(v, child, depth+1)
		}
		return m
	case yaml.SequenceNode:
		s := make([]any, len(n.Content))
		for i, item := range n.Content {
			child := fmt.Sprintf("%s[%d]", path, i)
			d.source.Positions[child] = pos(item)
			s[i] = d.convert(item, child, depth+1)
		}
		return s
	case yaml.ScalarNode:
		v := scalar(n)
		switch v.(type) {
		case int64, float64:
			d.numbers[path] = n.Value
		}
		return v
	default:
		d.errorf(n, path, "unexpected YAML node")
		return nil
	}
}

// scalar resolves a scalar by its tag, as YAML 1.2's core schema does.
func scalar(n *yaml.Node) any {
	switch n.Tag {
	case "!!null":
		return nil
	case "!!bool":
		var b bool
		if n.Decode(&b) == nil {
			return b
		}
	case "!!int":
		if i, err := strconv.ParseInt(n.Value, 0, 64); err == nil {
			return i
		}
		var i int64
		if n.Decode(&i) == nil {
			return i
		}
	case "!!float":
		var f float64
		if n.Decode(&f) == nil {
			return f
		}
	}
	return n.Value
}

func childPath(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

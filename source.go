package elevator

import (
	"fmt"
	"sort"
	"strings"
)

// Pos is a position in a manifest file. Line and Column start at 1.
type Pos struct {
	Line, Column int
}

// Source remembers where each field of a parsed manifest came from, so that a
// problem found late (while compiling, or after looking facts up in AWS) can
// still be reported at its file:line:column.
type Source struct {
	File string
	// Positions maps a field path such as "network.tiers[1].cidr" or
	// "regions.us-east-1" to the position of its value.
	Positions map[string]Pos
}

// At returns the position of path, or of its nearest ancestor that has one.
func (s Source) At(path string) Pos {
	for p := path; ; {
		if pos, ok := s.Positions[p]; ok {
			return pos
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			return s.Positions[""]
		}
		p = p[:i]
	}
}

// Errorf returns a FieldError for path with a formatted message.
func (s Source) Errorf(path string, value any, format string, args ...any) *FieldError {
	return &FieldError{File: s.File, Pos: s.At(path), Path: path, Value: value, Message: fmt.Sprintf(format, args...)}
}

// FieldError is one problem with one field of a manifest.
type FieldError struct {
	File string
	Pos  Pos
	Path string // the field path, "" for the whole document
	// Value is the offending value; nil when the problem is a missing field.
	Value   any
	Message string // what is wrong and what is allowed
}

// Error formats the problem as file:line:column: path: value: message.
func (e *FieldError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s:%d:%d: ", e.File, e.Pos.Line, e.Pos.Column)
	if e.Path != "" {
		b.WriteString(e.Path + ": ")
	}
	if e.Value != nil {
		fmt.Fprintf(&b, "%s: ", quoteValue(e.Value))
	}
	b.WriteString(e.Message)
	return b.String()
}

func quoteValue(v any) string {
	switch v := v.(type) {
	case string:
		return fmt.Sprintf("%q", v)
	default:
		return fmt.Sprint(v)
	}
}

// FieldErrors is every problem found in one manifest, so that a user can fix
// them all in one go. It is an error only when it is not empty.
type FieldErrors []*FieldError

// Error lists the problems one per line, sorted by position.
func (l FieldErrors) Error() string {
	lines := make([]string, len(l))
	for i, e := range l.Sorted() {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Sorted returns the problems ordered by file, line and column.
func (l FieldErrors) Sorted() FieldErrors {
	s := append(FieldErrors(nil), l...)
	sort.SliceStable(s, func(i, j int) bool {
		a, b := s[i], s[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Pos.Line != b.Pos.Line {
			return a.Pos.Line < b.Pos.Line
		}
		return a.Pos.Column < b.Pos.Column
	})
	return s
}

// Err returns l as an error, or nil when l is empty.
func (l FieldErrors) Err() error {
	if len(l) == 0 {
		return nil
	}
	return l
}

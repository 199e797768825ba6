// Package elevator holds Elevator's domain: orbits, their manifests' source
// positions, and the error type every layer returns. It imports no AWS SDK;
// adapters under internal/aws translate into these types, and cmd/elevator
// translates them into exit codes.
package elevator

import (
	"errors"
	"fmt"
)

// Error codes. Each maps to one process exit code in the CLI (see
// docs/exit-codes.md).
const (
	EINTERNAL    = "internal"    // a bug or an unexpected condition
	EINVALID     = "invalid"     // bad input: a manifest, a flag, an argument
	ECONFLICT    = "conflict"    // a lock is held, a stack is busy or protected
	ENOTFOUND    = "not_found"   // the thing asked for does not exist
	EAWS         = "aws"         // AWS (or the emulator) refused or failed a call
	EINTERRUPTED = "interrupted" // the user or the system stopped the command
	EFAILED      = "failed"      // a release ended FailureClean: nothing changed, nothing left behind
	EDIRTY       = "dirty"       // a release ended FailureDirty: it left something behind
)

// Error is Elevator's domain error: a code that decides how the edge reports
// it (exit code, HTTP status) and a message written for the user.
type Error struct {
	Code    string
	Message string
	Err     error // a cause, written after the message; nil when there is none

	// stated are the causes the message already states, as Errorf's %w
	// operands: errors.Is and errors.As reach them, Error does not repeat
	// them.
	stated []error
}

// Error returns the message, followed by Err when there is one.
func (e *Error) Error() string {
	switch {
	case e.Err == nil:
		return e.Message
	case e.Message == "":
		return e.Err.Error()
	}
	return e.Message + ": " + e.Err.Error()
}

// Unwrap returns every cause: Err and the ones the message states.
func (e *Error) Unwrap() []error {
	if e.Err == nil {
		return e.stated
	}
	return append([]error{e.Err}, e.stated...)
}

// Errorf returns an *Error with the given code and a formatted message. Each
// %w verb keeps its operand reachable with errors.As and errors.Is, as
// fmt.Errorf does; the message states it once.
func Errorf(code, format string, args ...any) *Error {
	err := fmt.Errorf(format, args...)
	e := &Error{Code: code, Message: err.Error()}
	switch w := err.(type) {
	case interface{ Unwrap() []error }:
		e.stated = w.Unwrap()
	case interface{ Unwrap() error }:
		e.stated = []error{w.Unwrap()}
	}
	return e
}

// ErrorCode returns the code of the first *Error in err's chain, EINVALID for
// a list of field errors, and EINTERNAL for anything else (and "" for nil).
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	var fe FieldErrors
	if errors.As(err, &fe) {
		return EINVALID
	}
	return EINTERNAL
}

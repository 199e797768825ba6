package elevator

import (
	"errors"
	"fmt"
	"testing"
)

func TestErrorMessages(t *testing.T) {
	cause := errors.New("api error Throttling")
	reason := errors.New("auto scaling group is busy")
	tests := []struct {
		name string
		err  error
		want string
		code string
	}{
		{"a formatted error that wraps its cause says the cause once",
			Errorf(EAWS, "describe stack x: %w", cause), "describe stack x: api error Throttling", EAWS},
		{"a formatted error that wraps two causes says each once",
			Errorf(ECONFLICT, "set capacity: %w: %w", reason, cause), "set capacity: auto scaling group is busy: api error Throttling", ECONFLICT},
		{"a message that happens to end with its cause still says the cause",
			&Error{Code: EAWS, Message: "retry: api error Throttling", Err: cause}, "retry: api error Throttling: api error Throttling", EAWS},
		{"an error built with a message and a cause joins them",
			&Error{Code: EINTERNAL, Message: "encode template", Err: cause}, "encode template: api error Throttling", EINTERNAL},
		{"an error with only a cause says the cause",
			&Error{Code: ENOTFOUND, Err: cause}, "api error Throttling", ENOTFOUND},
		{"the outermost code wins",
			Errorf(EINTERRUPTED, "interrupted: %w", Errorf(EAWS, "describe stack x: %w", cause)), "interrupted: describe stack x: api error Throttling", EINTERRUPTED},
		{"a list of field errors is invalid input",
			FieldErrors{{File: "o.yml", Pos: Pos{Line: 2, Column: 3}, Path: "name", Value: "X", Message: "bad"}}, `o.yml:2:3: name: "X": bad`, EINVALID},
		{"a plain error is internal", cause, "api error Throttling", EINTERNAL},
		{"no error has no code", nil, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.err != nil {
				if got := tt.err.Error(); got != tt.want {
					t.Errorf("Error() = %q, want %q", got, tt.want)
				}
			}
			if got := ErrorCode(tt.err); got != tt.code {
				t.Errorf("ErrorCode = %q, want %q", got, tt.code)
			}
		})
	}
}

type codedCause struct{ code string }

func (c *codedCause) Error() string { return "coded " + c.code }

func TestErrorfKeepsEveryCause(t *testing.T) {
	first, second := errors.New("first"), &codedCause{"second"}
	err := Errorf(ECONFLICT, "doing: %w: %w (%v)", first, second, "not a cause")
	if !errors.Is(err, first) {
		t.Error("errors.Is lost the first %w")
	}
	var cc *codedCause
	if !errors.As(err, &cc) || cc != second {
		t.Error("errors.As lost the second %w")
	}
	if got := len(err.Unwrap()); got != 2 {
		t.Errorf("Unwrap() has %d causes, want 2", got)
	}
	if got := len(Errorf(EINVALID, "no cause: %v", first).Unwrap()); got != 0 {
		t.Errorf("a %%v operand became a cause: Unwrap() has %d", got)
	}
	wrapped := fmt.Errorf("outer: %w", &Error{Code: EAWS, Message: "m", Err: first})
	if !errors.Is(wrapped, first) || ErrorCode(wrapped) != EAWS {
		t.Errorf("an Error wrapped by fmt.Errorf lost its cause or code: %v", ErrorCode(wrapped))
	}
}

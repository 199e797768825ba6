package elevator

import (
	"errors"
	"testing"
)

func TestErrorMessages(t *testing.T) {
	cause := errors.New("api error Throttling")
	tests := []struct {
		name string
		err  error
		want string
		code string
	}{
		{"a formatted error that wraps its cause says the cause once",
			Errorf(EAWS, "describe stack x: %w", cause), "describe stack x: api error Throttling", EAWS},
		{"an error built with a message and a cause joins them",
			&Error{Code: EINTERNAL, Message: "encode template", Err: cause}, "encode template: api error Throttling", EINTERNAL},
		{"a list of field errors is invalid input",
			FieldErrors{{File: "o.yml", Pos: Pos{Line: 2, Column: 3}, Path: "name", Value: "X", Message: "bad"}}, `o.yml:2:3: name: "X": bad`, EINVALID},
		{"a plain error is internal", cause, "api error Throttling", EINTERNAL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q", got, tt.want)
			}
			if got := ErrorCode(tt.err); got != tt.code {
				t.Errorf("ErrorCode = %q, want %q", got, tt.code)
			}
		})
	}
	if !errors.Is(Errorf(EAWS, "x: %w", cause), cause) {
		t.Error("Errorf lost its cause for errors.Is")
	}
}

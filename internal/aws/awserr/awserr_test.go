package awserr

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	autoscalingtypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	elevator "github.com/elevatorhq/elevator"
)

var (
	errMissing = errors.New("thing not found")
	errBusy    = errors.New("thing is busy")
	errTaken   = errors.New("name taken")
)

// codes is a service that says all its kinds of answers.
var codes = Codes{
	NotFound: []Match{
		{Code: "ValidationError", Message: "does not exist", Err: errMissing},
		{Code: "*.NotFound", Err: errMissing},
		{Code: "ResourceNotFoundException", Err: errMissing},
	},
	Conflict: []Match{
		{Code: "ResourceInUse", Err: errBusy},
		{Code: "AlreadyExists", Err: errTaken},
		{Status: http.StatusPreconditionFailed, Err: errBusy},
	},
	Invalid: []Match{{Code: "*.Malformed"}},
}

func api(code, msg string) error {
	return &smithy.GenericAPIError{Code: code, Message: msg, Fault: smithy.FaultClient}
}

// sdk wraps an answer the way the SDK does: in an operation error around
// an HTTP response error.
func sdk(err error, status int) error {
	return &smithy.OperationError{ServiceID: "Test", OperationName: "Describe", Err: &awshttp.ResponseError{
		ResponseError: &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}}, Err: err},
		RequestID:     "req-1",
	}}
}

func TestTranslate(t *testing.T) {
	op := Op{Doing: "describe thing t1", Region: "eu-west-1", Kind: "thing", Name: "t1"}
	tests := []struct {
		name string
		op   Op
		err  error
		code string   // "" for nil
		is   []error  // each must be in the chain
		not  []error  // none may be
		says []string // parts of the message
	}{
		{"no error is no error", op, nil, "", nil, nil, nil},
		{"a cancelled context is interrupted", op, sdk(&smithy.CanceledError{Err: context.Canceled}, 0),
			elevator.EINTERRUPTED, []error{context.Canceled}, []error{errMissing}, []string{"describe thing t1 in eu-west-1: "}},
		{"a context past its deadline is interrupted", op, sdk(&smithy.CanceledError{Err: context.DeadlineExceeded}, 0),
			elevator.EINTERRUPTED, []error{context.DeadlineExceeded}, nil, []string{"describe thing t1 in eu-west-1"}},
		{"a context done while waiting to retry is interrupted", op,
			&smithy.OperationError{ServiceID: "Test", OperationName: "Describe", Err: &aws.RequestCanceledError{Err: context.DeadlineExceeded}},
			elevator.EINTERRUPTED, []error{context.DeadlineExceeded}, nil, nil},
		{"a network timeout is an AWS failure, not an interruption", op,
			&smithy.OperationError{ServiceID: "Test", OperationName: "Describe", Err: &smithyhttp.RequestSendError{Err: fmt.Errorf("dial tcp 10.0.0.1:443: i/o timeout: %w", context.DeadlineExceeded)}},
			elevator.EAWS, nil, nil, []string{"i/o timeout"}},
		{"a not-found answer that says so is not found and names the thing", op, sdk(api("ValidationError", "Stack with id t1 does not exist"), 400),
			elevator.ENOTFOUND, []error{errMissing}, []error{errBusy, ErrThrottled}, []string{"thing t1 not found in eu-west-1"}},
		{"the same code saying something else is not a missing thing", op, sdk(api("ValidationError", "Template format error"), 400),
			elevator.EAWS, nil, []error{errMissing}, []string{"describe thing t1 in eu-west-1: ", "Template format error"}},
		{"a code matched by its suffix is not found, and AWS says which when the call names several", Op{Doing: "describe subnets", Region: "eu-west-1", Kind: "subnet"},
			sdk(api("InvalidSubnetID.NotFound", "The subnet ID 'subnet-9' does not exist"), 400),
			elevator.ENOTFOUND, []error{errMissing}, nil, []string{"subnet not found in eu-west-1: The subnet ID 'subnet-9' does not exist"}},
		{"a typed SDK error is matched by its code", op, sdk(&ddbtypes.ResourceNotFoundException{Message: ptr("Requested resource not found")}, 400),
			elevator.ENOTFOUND, []error{errMissing}, nil, []string{"thing t1 not found"}},
		{"a busy resource is a conflict", op, sdk(&autoscalingtypes.ResourceInUseFault{Message: ptr("in use")}, 400),
			elevator.ECONFLICT, []error{errBusy}, []error{errMissing}, []string{"describe thing t1 in eu-west-1: thing is busy: "}},
		{"a name taken is a conflict of its own", op, sdk(&autoscalingtypes.AlreadyExistsFault{Message: ptr("exists")}, 400),
			elevator.ECONFLICT, []error{errTaken}, []error{errBusy}, nil},
		{"a bare HTTP status is matched when the answer has no code", op, sdk(errors.New("http 412"), http.StatusPreconditionFailed),
			elevator.ECONFLICT, []error{errBusy}, nil, nil},
		{"a malformed id is invalid", op, sdk(api("InvalidAMIID.Malformed", "Invalid id: \"x\""), 400),
			elevator.EINVALID, nil, []error{errMissing}, []string{"Invalid id"}},
		{"a JSON protocol's validation exception is invalid", op, sdk(api("ValidationException", "bad expression"), 400),
			elevator.EINVALID, nil, nil, []string{"bad expression"}},
		{"throttling, after the SDK's retries, is an AWS failure saying so", op, sdk(api("Throttling", "Rate exceeded"), 400),
			elevator.EAWS, []error{ErrThrottled}, []error{ErrAccessDenied}, []string{"describe thing t1 in eu-west-1: throttled by AWS: ", "Rate exceeded"}},
		{"EC2's throttling is throttling too", op, sdk(api("RequestLimitExceeded", "Request limit exceeded."), 503),
			elevator.EAWS, []error{ErrThrottled}, nil, nil},
		{"denied access is an AWS failure saying so", op, sdk(api("AccessDenied", "User: arn:aws:iam::1:user/x is not authorized"), 403),
			elevator.EAWS, []error{ErrAccessDenied}, []error{ErrCredentials}, []string{"access denied: ", "is not authorized"}},
		{"EC2's unauthorized operation is denied access", op, sdk(api("UnauthorizedOperation", "You are not authorized"), 403),
			elevator.EAWS, []error{ErrAccessDenied}, nil, nil},
		{"an expired token is refused credentials, keeping AWS's answer", op, sdk(api("ExpiredToken", "The security token included in the request is expired"), 403),
			elevator.EINVALID, []error{ErrCredentials}, nil, []string{"no usable AWS credentials: ", "is expired"}},
		{"no credentials to sign with is refused credentials, keeping the cause", op,
			&smithy.OperationError{ServiceID: "Test", OperationName: "Describe", Err: &v4.SigningError{Err: errors.New("failed to retrieve credentials: no EC2 IMDS role found")}},
			elevator.EINVALID, []error{ErrCredentials}, nil, []string{"no EC2 IMDS role found"}},
		{"any other answer is an AWS failure", op, sdk(api("InternalFailure", "oops"), 500),
			elevator.EAWS, nil, []error{errMissing, ErrThrottled, ErrAccessDenied, ErrCredentials}, []string{"describe thing t1 in eu-west-1: ", "oops"}},
		{"a global service's failure names no region", Op{Doing: "get caller identity"}, sdk(api("InternalFailure", "oops"), 500),
			elevator.EAWS, nil, nil, []string{"get caller identity: operation error"}},
		{"an error translated already is kept as it is", op, elevator.Errorf(elevator.ECONFLICT, "lock held"),
			elevator.ECONFLICT, nil, nil, []string{"lock held"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := codes.Translate(tt.op, tt.err)
			if tt.code == "" {
				if got != nil {
					t.Fatalf("got %v, want nil", got)
				}
				return
			}
			if c := elevator.ErrorCode(got); c != tt.code {
				t.Errorf("code %q, want %q (%v)", c, tt.code, got)
			}
			var e *elevator.Error
			if !errors.As(got, &e) {
				t.Errorf("%T is not an *elevator.Error", got)
			}
			if !errors.Is(got, tt.err) {
				t.Errorf("lost AWS's answer: %v", got)
			}
			for _, want := range tt.is {
				if !errors.Is(got, want) {
					t.Errorf("%v does not wrap %v", got, want)
				}
			}
			for _, not := range tt.not {
				if errors.Is(got, not) {
					t.Errorf("%v wraps %v", got, not)
				}
			}
			for _, part := range tt.says {
				if !strings.Contains(got.Error(), part) {
					t.Errorf("message %q lacks %q", got.Error(), part)
				}
			}
			if msg := got.Error(); tt.err != nil && strings.Count(msg, tt.err.Error()) > 1 {
				t.Errorf("message says AWS's answer twice: %q", msg)
			}
		})
	}
}

func TestNotFoundErrors(t *testing.T) {
	answer := api("ValidationError", "Stack with id s does not exist")
	t.Run("a translated answer names the kind, name and region, and keeps the answer", func(t *testing.T) {
		err := codes.Translate(Op{Doing: "describe stack s", Region: "us-east-1", Kind: "stack", Name: "s"}, answer)
		var nf *NotFoundError
		if !errors.As(err, &nf) {
			t.Fatalf("%v: no *NotFoundError", err)
		}
		if nf.Kind != "stack" || nf.Name != "s" || nf.Region != "us-east-1" {
			t.Errorf("got %+v", nf)
		}
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != "ValidationError" {
			t.Errorf("AWS's answer is not reachable: %v", err)
		}
		if got, want := err.Error(), "stack s not found in us-east-1"; got != want {
			t.Errorf("message %q, want %q", got, want)
		}
	})
	t.Run("an empty answer is not found, wrapping the adapter's sentinel", func(t *testing.T) {
		err := NotFound("auto scaling group", "g", "eu-west-1", errMissing)
		var nf *NotFoundError
		if elevator.ErrorCode(err) != elevator.ENOTFOUND || !errors.Is(err, errMissing) || !errors.As(err, &nf) || nf.Name != "g" {
			t.Errorf("got %v (code %q)", err, elevator.ErrorCode(err))
		}
		if got, want := err.Error(), "auto scaling group g not found in eu-west-1"; got != want {
			t.Errorf("message %q, want %q", got, want)
		}
	})
	t.Run("a failed look-up is never a missing resource", func(t *testing.T) {
		for _, failure := range []error{api("Throttling", "Rate exceeded"), api("AccessDenied", "no"), context.Canceled, errors.New("connection refused")} {
			err := codes.Translate(Op{Doing: "describe stack s", Kind: "stack", Name: "s"}, failure)
			var nf *NotFoundError
			if errors.As(err, &nf) || errors.Is(err, errMissing) || elevator.ErrorCode(err) == elevator.ENOTFOUND {
				t.Errorf("%v was taken for a missing stack: %v", failure, err)
			}
		}
	})
}

func TestMatch(t *testing.T) {
	tests := []struct {
		name string
		m    Match
		err  error
		want bool
	}{
		{"the exact code", Match{Code: "NoSuchKey"}, api("NoSuchKey", ""), true},
		{"another code", Match{Code: "NoSuchKey"}, api("NoSuchBucket", ""), false},
		{"a suffix", Match{Code: "*.NotFound"}, api("InvalidVpcID.NotFound", ""), true},
		{"a suffix is not a substring", Match{Code: "*.NotFound"}, api("InvalidVpcID.NotFoundException", ""), false},
		{"a message part, whatever its case", Match{Code: "ValidationError", Message: "not found"}, api("ValidationError", "AutoScalingGroup name Not Found - x"), true},
		{"a message without the part", Match{Code: "ValidationError", Message: "not found"}, api("ValidationError", "is pending delete"), false},
		{"a status with no code", Match{Status: 412}, sdk(errors.New("412"), 412), true},
		{"another status", Match{Status: 412}, sdk(errors.New("409"), 409), false},
		{"a status and a code both", Match{Status: 404, Code: "NotFound"}, sdk(api("NotFound", ""), 404), true},
		{"a plain error", Match{Code: "NoSuchKey"}, errors.New("NoSuchKey"), false},
		{"no error", Match{Code: "NoSuchKey"}, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.m.Is(tt.err); got != tt.want {
				t.Errorf("Is = %v, want %v", got, tt.want)
			}
		})
	}
}

func ptr(s string) *string { return &s }

// Package awserr translates the errors of AWS SDK calls into Elevator's
// *elevator.Error, for every adapter under internal/aws. An adapter declares
// once, as data (Codes), what its service's own error codes mean; the answers
// every service gives — a cancelled context, throttling, refused credentials,
// denied access — are translated here, the same way for all.
//
// What Translate returns, by AWS's answer:
//
//   - a call given up because its context was cancelled or passed its
//     deadline: EINTERRUPTED (a network timeout is not one: EAWS);
//   - an answer matching Codes.NotFound: ENOTFOUND wrapping a *NotFoundError
//     (and the match's sentinel, for errors.Is);
//   - an answer matching Codes.Conflict: ECONFLICT; Codes.Invalid or a
//     ValidationException: EINVALID; each wrapping the match's sentinel;
//   - missing, expired or unrecognised credentials: EINVALID wrapping
//     ErrCredentials;
//   - denied access: EAWS wrapping ErrAccessDenied;
//   - throttling: EAWS wrapping ErrThrottled;
//   - anything else: EAWS.
//
// Every translated error keeps AWS's answer reachable with errors.As (for
// smithy.APIError and the SDK's typed errors) and errors.Is.
package awserr

import (
	"cmp"
	"context"
	"errors"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	elevator "github.com/elevatorhq/elevator"
)

// The causes the answers common to every service are given, for errors.Is.
var (
	// ErrCredentials: AWS found no credentials to sign with, or refused the
	// ones it was given (expired, unknown, wrongly signed).
	ErrCredentials = errors.New("no usable AWS credentials")
	// ErrAccessDenied: the credentials are not allowed to make the call.
	ErrAccessDenied = errors.New("access denied")
	// ErrThrottled: AWS kept refusing the call as too frequent, after the
	// SDK's retries.
	ErrThrottled = errors.New("throttled by AWS")
)

// Codes declares what one service's own error codes mean. Each adapter
// keeps one, as a package variable; an answer that matches none of them is
// translated by the rules every service shares.
type Codes struct {
	NotFound []Match // the resource the call names does not exist: ENOTFOUND
	Conflict []Match // the resource exists already, is busy, or changed: ECONFLICT
	Invalid  []Match // the request is malformed and retrying cannot help: EINVALID
}

// Match picks out AWS answers.
type Match struct {
	// Code is the API error code, such as "ValidationError"; one starting
	// with "*" matches every code ending in the rest ("*.NotFound").
	Code string
	// Message, when set, must be part of the answer's message (compared
	// without regard to case).
	Message string
	// Status, when set, must be the answer's HTTP status; a Match with a
	// Status and no Code matches whatever the code.
	Status int
	// Err, when set, is wrapped by the translated error so callers can
	// check it with errors.Is (e.g. cloudformation.ErrStackNotFound).
	Err error
}

// Op says what an adapter was doing when AWS answered.
type Op struct {
	Doing  string // what, short and lower case: "describe stack shop"
	Region string // where; "" for a global service
	Kind   string // the kind of resource the call names: "stack"
	Name   string // its name or id; "" when the call names several
}

// NotFoundError says that a resource does not exist. Adapters return it
// inside an *elevator.Error with code ENOTFOUND; find it with errors.As, or
// check for an adapter's sentinel (such as cloudformation.ErrStackNotFound)
// with errors.Is.
type NotFoundError struct {
	Kind   string // "stack", "auto scaling group", "object"
	Name   string // "" when AWS's answer says which
	Region string // "" for a global service
	Err    error  // AWS's answer, when there was one
	is     error  // the adapter's sentinel
}

// Error says what is missing, and where.
func (e *NotFoundError) Error() string {
	var b strings.Builder
	b.WriteString(cmp.Or(e.Kind, "resource"))
	if e.Name != "" {
		b.WriteString(" " + e.Name)
	}
	b.WriteString(" not found")
	if e.Region != "" {
		b.WriteString(" in " + e.Region)
	}
	if e.Name == "" && e.Err != nil {
		b.WriteString(": " + message(e.Err)) // AWS's answer says which
	}
	return b.String()
}

// Unwrap returns the adapter's sentinel and AWS's answer.
func (e *NotFoundError) Unwrap() []error {
	var errs []error
	for _, err := range []error{e.is, e.Err} {
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// NotFound returns the ENOTFOUND error for a resource AWS answered about
// without an error, such as an empty list. is, when not nil, is the
// adapter's sentinel the error wraps.
func NotFound(kind, name, region string, is error) error {
	return notFound(&NotFoundError{Kind: kind, Name: name, Region: region, is: is})
}

func notFound(nf *NotFoundError) error {
	return &elevator.Error{Code: elevator.ENOTFOUND, Err: nf}
}

// Translate returns err, the answer to op, as an *elevator.Error (see the
// package comment), or nil for nil. An *elevator.Error is returned as it is:
// it was translated already.
func (c Codes) Translate(op Op, err error) error {
	if err == nil {
		return nil
	}
	var done *elevator.Error
	if errors.As(err, &done) {
		return err
	}
	where := op.Doing
	if op.Region != "" {
		where += " in " + op.Region
	}
	if interrupted(err) {
		return elevator.Errorf(elevator.EINTERRUPTED, "%s: %w", where, err)
	}
	if m, ok := find(c.NotFound, err); ok {
		return notFound(&NotFoundError{Kind: op.Kind, Name: op.Name, Region: op.Region, Err: err, is: m.Err})
	}
	if m, ok := find(c.Conflict, err); ok {
		return wrap(elevator.ECONFLICT, where, m.Err, err)
	}
	if m, ok := find(c.Invalid, err); ok {
		return wrap(elevator.EINVALID, where, m.Err, err)
	}
	code := Code(err)
	var signing *v4.SigningError
	switch {
	case errors.As(err, &signing) || credentialCodes[code]:
		return wrap(elevator.EINVALID, where, ErrCredentials, err)
	case accessDeniedCodes[code]:
		return wrap(elevator.EAWS, where, ErrAccessDenied, err)
	case isThrottle(code):
		return wrap(elevator.EAWS, where, ErrThrottled, err)
	case code == "ValidationException":
		// The code of a malformed request in the JSON protocols (DynamoDB,
		// SSM, ...). The query protocols' ValidationError is not among
		// these: CloudFormation and Auto Scaling also answer it for a
		// resource that is busy or missing, which each adapter sorts out.
		return wrap(elevator.EINVALID, where, nil, err)
	}
	return elevator.Errorf(elevator.EAWS, "%s: %w", where, err)
}

// interrupted reports whether the call was given up because its context
// was done. The SDK says so with a CanceledError (sending) or a
// RequestCanceledError (waiting to retry, or for credentials), whether the
// context was cancelled or passed its deadline. A bare deadline error is
// not enough: net/http's and net's own timeouts match
// context.DeadlineExceeded too.
func interrupted(err error) bool {
	var sending *smithy.CanceledError
	var waiting *aws.RequestCanceledError
	return errors.Is(err, context.Canceled) || errors.As(err, &sending) || errors.As(err, &waiting)
}

// wrap returns an error with code, saying where, then why (is) when
// there is a reason to name, then AWS's answer.
func wrap(code, where string, is, err error) error {
	if is == nil {
		return elevator.Errorf(code, "%s: %w", where, err)
	}
	return elevator.Errorf(code, "%s: %w: %w", where, is, err)
}

// Code returns the API error code of err, or "" when AWS gave none (a
// failure before an answer, or no failure).
func Code(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// Is reports whether err is an AWS answer that m picks out.
func (m Match) Is(err error) bool {
	if m.Status != 0 {
		var re *smithyhttp.ResponseError
		if !errors.As(err, &re) || re.HTTPStatusCode() != m.Status {
			return false
		}
		if m.Code == "" {
			return true
		}
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return false
	}
	code := ae.ErrorCode()
	if suffix, ok := strings.CutPrefix(m.Code, "*"); ok {
		if !strings.HasSuffix(code, suffix) {
			return false
		}
	} else if code != m.Code {
		return false
	}
	return m.Message == "" || strings.Contains(strings.ToLower(ae.ErrorMessage()), strings.ToLower(m.Message))
}

func find(ms []Match, err error) (Match, bool) {
	for _, m := range ms {
		if m.Is(err) {
			return m, true
		}
	}
	return Match{}, false
}

// credentialCodes are the answers of every service to credentials that are
// missing, expired or wrong.
var credentialCodes = map[string]bool{
	"ExpiredToken":                true,
	"ExpiredTokenException":       true,
	"InvalidClientTokenId":        true,
	"UnrecognizedClientException": true,
	"InvalidAccessKeyId":          true,
	"SignatureDoesNotMatch":       true,
	"InvalidSignatureException":   true,
	"IncompleteSignature":         true,
	"MissingAuthenticationToken":  true,
	"AuthFailure":                 true,
	"InvalidToken":                true,
}

// accessDeniedCodes are the answers of every service to a call the
// credentials are not allowed to make.
var accessDeniedCodes = map[string]bool{
	"AccessDenied":          true,
	"AccessDeniedException": true,
	"UnauthorizedOperation": true,
	"AuthorizationError":    true,
	"Forbidden":             true,
}

// isThrottle reports whether code is one the SDK retries as throttling.
func isThrottle(code string) bool {
	_, ok := retry.DefaultThrottleErrorCodes[code]
	return ok
}

// message returns AWS's own words in err, or err's text when AWS gave none.
func message(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorMessage() != "" {
		return ae.ErrorMessage()
	}
	return err.Error()
}

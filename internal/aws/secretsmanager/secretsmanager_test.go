package secretsmanager

import (
	"context"
	"errors"
	"regexp"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	smsdk "github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/emulator/emulatortest"
)

func TestMain(m *testing.M) { emulatortest.Main(m) }

// TestSecretARNIsTheFullARN: on moto, a secret whose name ends like the
// suffix Secrets Manager adds (shop/db-master) is found by its name, and
// its ARN is the full one, with the suffix; a missing secret is
// ENOTFOUND wrapping ErrNotFound.
func TestSecretARNIsTheFullARN(t *testing.T) {
	cfg := emulatortest.Config(t, "eu-west-1")
	ctx := context.Background()
	made, err := smsdk.NewFromConfig(cfg).CreateSecret(ctx, &smsdk.CreateSecretInput{Name: aws.String("shop/db-master"), SecretString: aws.String("s3cret")})
	if err != nil {
		t.Fatal(err)
	}
	c := New(cfg)
	arn, err := c.SecretARN(ctx, "shop/db-master")
	if err != nil {
		t.Fatal(err)
	}
	full := regexp.MustCompile(`^arn:aws:secretsmanager:eu-west-1:[0-9]{12}:secret:shop/db-master-[A-Za-z0-9]{6}$`)
	if arn != aws.ToString(made.ARN) || !full.MatchString(arn) {
		t.Errorf("SecretARN = %q, want the full ARN %s", arn, aws.ToString(made.ARN))
	}
	_, err = c.SecretARN(ctx, "shop/none")
	if elevator.ErrorCode(err) != elevator.ENOTFOUND || !errors.Is(err, ErrNotFound) {
		t.Errorf("a missing secret: %v (%s), want ENOTFOUND wrapping ErrNotFound", err, elevator.ErrorCode(err))
	}
}

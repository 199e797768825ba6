package ssm

// ParametersUnder on moto: every parameter under the path, at any depth
// and over several pages, none beside it.

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	ssmsdk "github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/elevatorhq/elevator/internal/emulator/emulatortest"
)

func TestMain(m *testing.M) { emulatortest.Main(m) }

func TestParametersUnderReadsEveryPageAndDepth(t *testing.T) {
	cfg := emulatortest.Config(t, "us-east-1")
	sdk, c := ssmsdk.NewFromConfig(cfg), New(cfg)
	ctx := context.Background()
	var want []string
	put := func(name, value string) {
		t.Helper()
		if _, err := sdk.PutParameter(ctx, &ssmsdk.PutParameterInput{Name: aws.String(name), Value: aws.String(value), Type: ssmtypes.ParameterTypeString}); err != nil {
			t.Fatal(err)
		}
	}
	// 25 parameters: three pages of GetParametersByPath's at most 10.
	for i := range 25 {
		name := fmt.Sprintf("/elevator/images/line-%02d", i)
		if i%2 == 1 {
			name = fmt.Sprintf("/elevator/images/shop/web/v%02d", i)
		}
		put(name, fmt.Sprintf("ami-%02d", i))
		want = append(want, name+"="+fmt.Sprintf("ami-%02d", i))
	}
	put("/elevator/other", "ami-99")
	got, err := c.ParametersUnder(ctx, "/elevator/images/")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range got {
		names = append(names, p.Name+"="+p.Value)
	}
	slices.Sort(names)
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Errorf("parameters:\n%v\nwant:\n%v", names, want)
	}
	if none, err := c.ParametersUnder(ctx, "/nothing/here/"); err != nil || len(none) != 0 {
		t.Errorf("an empty path: %v, %v; want none and no error", none, err)
	}
}

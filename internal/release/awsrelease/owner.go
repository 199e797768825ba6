package awsrelease

import (
	"context"
	"sync"

	"github.com/elevatorhq/elevator/internal/aws/sts"
)

// imageOwner names the account a Cloud releases in: an image another
// account owns is Foreign (see release.Resource), its owner's tags
// unseen.
type imageOwner interface {
	Account(ctx context.Context) (string, error)
}

// callerAccount is the caller's account, asked of STS once.
type callerAccount struct {
	sts interface {
		CallerIdentity(ctx context.Context) (sts.Identity, error)
	}
	mu      sync.Mutex
	account string
}

// Account returns the caller's account id; errors are STS's.
func (c *callerAccount) Account(ctx context.Context) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.account == "" {
		id, err := c.sts.CallerIdentity(ctx)
		if err != nil {
			return "", err
		}
		c.account = id.Account
	}
	return c.account, nil
}

// Package ecs is Elevator's adapter for Amazon Elastic Container Service.
// Errors it returns are *elevator.Error, translated by awserr: ENOTFOUND
// wrapping an *awserr.NotFoundError (and ErrClusterNotFound) for a
// cluster that does not exist, and the codes awserr gives every service
// (EINTERRUPTED when the context was cancelled, EAWS for any other
// failure).
package ecs

import "errors"

// ErrClusterNotFound is wrapped by the ENOTFOUND error for a cluster that
// does not exist or was deleted (INACTIVE).
var ErrClusterNotFound = errors.New("ECS cluster not found")

//go:build !cairn_drop_writes

package server

import "context"

// dropWrite never drops a write in a real build; see drop_writes_on.go.
func dropWrite(context.Context) error { return nil }

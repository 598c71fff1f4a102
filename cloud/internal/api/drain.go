package api

import (
	"context"

	"connectrpc.com/connect"
)

// drainInterceptor ends streaming calls when draining closes: it cancels
// each stream's context, so a long-lived handler (Watch) returns and the
// client sees a clean end of stream and reconnects elsewhere. Unary calls
// are left alone to finish, which http.Server.Shutdown waits for.
type drainInterceptor struct{ draining <-chan struct{} }

func (drainInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc { return next }

func (drainInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (d drainInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		go func() {
			select {
			case <-d.draining:
				cancel()
			case <-ctx.Done():
			}
		}()
		return next(ctx, conn)
	}
}

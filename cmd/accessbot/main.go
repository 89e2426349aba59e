// Command accessbot is the accessbot binary: it wires config → store →
// Slack runtime → HTTP. See `accessbot --help`.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	m := NewMain()
	if err := m.Run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "accessbot:", err)
		stop()
		os.Exit(1)
	}
}

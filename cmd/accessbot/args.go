package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// Argument checks that say what a command expects, instead of cobra's
// "accepts 1 arg(s), received 0".

// needArgs wants exactly the positional arguments named, e.g. "APP", "FILE.csv".
func needArgs(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		switch {
		case len(args) < len(names):
			return fmt.Errorf("%s: missing %s (usage: %s)", commandName(cmd), strings.Join(names[len(args):], " and "), cmd.UseLine())
		case len(args) > len(names):
			return fmt.Errorf("%s: unexpected argument %q: it takes %s (usage: %s)", commandName(cmd), args[len(names)], strings.Join(names, " "), cmd.UseLine())
		}
		return nil
	}
}

// noArgs is for commands that take only flags.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("%s: unexpected argument %q: it takes none (usage: %s)", commandName(cmd), args[0], cmd.UseLine())
	}
	return nil
}

// showHelp is the RunE of a command that only groups subcommands: bare, it
// prints its help; with an argument, cobra.NoArgs reports the unknown
// subcommand (without a RunE, cobra printed the help and exited 0).
func showHelp(cmd *cobra.Command, _ []string) error { return cmd.Help() }

// commandName is the command path without the program name: "import users".
func commandName(cmd *cobra.Command) string {
	p := cmd.CommandPath()
	if i := strings.IndexByte(p, ' '); i >= 0 {
		return p[i+1:]
	}
	return p
}

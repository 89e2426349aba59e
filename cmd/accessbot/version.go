package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// Stamped at build time:
//
//	go build -ldflags "-X main.version=v1.2.3 -X main.commit=abc1234" ./cmd/accessbot
//
// When empty, buildVersion falls back to what the Go toolchain recorded.
var (
	version string
	commit  string
)

// buildVersion returns the version and commit: ldflags first, then the
// module version and VCS stamp from runtime/debug, then "dev"/"unknown".
func buildVersion() (string, string) {
	v, c := version, commit
	bi, ok := debug.ReadBuildInfo()
	if v == "" {
		v = "dev"
		if ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
	}
	if c == "" {
		c = "unknown"
		if ok {
			var rev, modified string
			for _, s := range bi.Settings {
				switch s.Key {
				case "vcs.revision":
					rev = s.Value
				case "vcs.modified":
					modified = s.Value
				}
			}
			if len(rev) > 12 {
				rev = rev[:12]
			}
			if rev != "" {
				c = rev
				if modified == "true" {
					c += "-dirty"
				}
			}
		}
	}
	return v, c
}

func (m *Main) versionLine() string {
	return fmt.Sprintf("accessbot %s (commit %s, %s %s/%s)", m.Version, m.Commit, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

func (m *Main) versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version and commit",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintln(cmd.OutOrStdout(), m.versionLine())
			return err
		},
	}
}

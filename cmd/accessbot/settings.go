package main

import (
	"github.com/spf13/pflag"

	"github.com/accessbot/accessbot/internal/config"
)

// setting is a command-line flag that sets a config key. Given, it wins
// over the environment and the config file (config.Flag).
type setting struct {
	name  string // flag name, without --
	key   string // config key, e.g. "http.listen"
	usage string
}

// settingFlag is a setting defined on a flag set, to read after parsing.
type settingFlag struct {
	setting
	flags *pflag.FlagSet
	value *string
}

// settingFlags defines each setting on fs. Defaults are left to the config
// (the help names the key), so an unset flag changes nothing.
func (m *Main) settingFlags(fs *pflag.FlagSet, settings ...setting) {
	for _, s := range settings {
		v := fs.String(s.name, "", s.usage+" (config "+s.key+", env "+config.EnvName(s.key)+")")
		m.settings = append(m.settings, settingFlag{setting: s, flags: fs, value: v})
	}
}

// givenSettings returns the settings flags given on the command line.
func (m *Main) givenSettings() []config.Flag {
	var out []config.Flag
	for _, s := range m.settings {
		if f := s.flags.Lookup(s.name); f != nil && f.Changed {
			out = append(out, config.Flag{Key: s.key, Name: "--" + s.name, Value: *s.value})
		}
	}
	return out
}

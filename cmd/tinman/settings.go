package main

import (
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/tinmanhq/tinman/internal/confcheck"
)

// settings binds a command's flags to the fields of the Configs it builds:
// each flag writes straight into its field, and its default is the field's
// value in the package's DefaultConfig, so a setting's name lives here and
// its default and rule in its package, each once. The package's New checks
// the values; a refusal is reported by the flag's name (exit 2).
type settings struct {
	fs *pflag.FlagSet
	// flags maps "workers.Config.LeaseTTL" to "lease-ttl".
	flags map[string]string
}

func newSettings(fs *pflag.FlagSet) *settings {
	return &settings{fs: fs, flags: map[string]string{}}
}

// bind remembers that flag sets field of config.
func (s *settings) bind(config, field, flag string) { s.flags[config+"."+field] = flag }

func (s *settings) intVar(p *int, config, field, flag, usage string) {
	s.fs.IntVar(p, flag, *p, usage)
	s.bind(config, field, flag)
}

func (s *settings) durationVar(p *time.Duration, config, field, flag, usage string) {
	s.fs.DurationVar(p, flag, *p, usage)
	s.bind(config, field, flag)
}

func (s *settings) stringSliceVar(p *[]string, config, field, flag, usage string) {
	s.fs.StringSliceVar(p, flag, *p, usage)
	s.bind(config, field, flag)
}

func (s *settings) stringVar(p *string, config, field, flag, usage string) {
	s.fs.StringVar(p, flag, *p, usage)
	s.bind(config, field, flag)
}

// refused turns a New's refusal of its Config into a usage error (exit 2)
// naming the flags at fault, as the user typed them; a fault of a field no
// flag sets is the program's, and stays as it is.
func (s *settings) refused(err error) error {
	if err == nil {
		return nil
	}
	var named []string
	for _, fe := range confcheck.Fields(err) {
		flag, ok := s.flags[fe.Config+"."+fe.Field]
		if !ok {
			return err
		}
		named = append(named, "--"+flag+" "+fe.Value+": "+fe.Rule)
	}
	if len(named) == 0 {
		return err
	}
	return usageErr("%s", strings.Join(named, "; "))
}

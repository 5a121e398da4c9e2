package main

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"
)

// A configuration file gives settings by flag name, one map per command or
// shared at the top:
//
//	nats-url: nats://nats-1:4222
//	worker:
//	  concurrency: 128
//	  ipmi-min-interval: 5s
//
// A flag on the command line wins over its TINMAN_* variable, which wins
// over the file.

// applyConfigFile sets, from --config (or TINMAN_CONFIG), every flag of cmd
// that neither the command line nor the environment set. In the command's
// own section, a key that names no flag, or any value that does not parse,
// is a usage error naming it; shared keys that are not this command's
// settings are left to the commands they belong to.
func applyConfigFile(cmd *cobra.Command) error {
	path, _ := cmd.Flags().GetString("config")
	if path == "" {
		return nil
	}
	shared, own, err := readConfig(path, cmd.Name())
	if err != nil {
		return err
	}
	for _, layer := range []struct {
		settings map[string]any
		strict   bool
	}{{shared, false}, {own, true}} {
		for _, key := range sortedKeys(layer.settings) {
			if err := applySetting(cmd.Flags(), path, key, layer.settings[key], layer.strict); err != nil {
				return err
			}
		}
	}
	return nil
}

// readConfig returns the file's shared settings (its top-level scalars and
// lists) and those of the section named for the command.
func readConfig(path, command string) (shared, own map[string]any, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, usageErr("--config: %v", err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, nil, usageErr("%s: not YAML: %v", path, err)
	}
	shared = map[string]any{}
	for k, v := range doc {
		if _, section := v.(map[string]any); !section {
			shared[k] = v
		}
	}
	own, _ = doc[command].(map[string]any)
	return shared, own, nil
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func applySetting(flags *pflag.FlagSet, path, key string, value any, strict bool) error {
	f := flags.Lookup(key)
	switch {
	case f == nil && strict:
		return usageErr("%s: %q is not a setting of this command (see --help)", path, key)
	case f == nil || f.Changed || os.Getenv(envKey(key)) != "":
		return nil
	}
	if err := f.Value.Set(settingText(value)); err != nil {
		return usageErr("%s: %s: %v", path, key, err)
	}
	f.Changed = true
	return nil
}

// settingText writes a YAML value as its flag would be typed.
func settingText(value any) string {
	switch v := value.(type) {
	case []any:
		parts := make([]string, len(v))
		for i, p := range v {
			parts[i] = fmt.Sprint(p)
		}
		return strings.Join(parts, ",")
	case map[string]any:
		parts := make([]string, 0, len(v))
		for _, k := range sortedKeys(v) {
			parts = append(parts, fmt.Sprintf("%s=%v", k, v[k]))
		}
		return strings.Join(parts, ",")
	}
	return fmt.Sprint(value)
}

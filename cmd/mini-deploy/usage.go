package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// A script must stop when it asks for something mini-deploy does not know.
// kubectl's answers are copied here: an unknown flag is
//
//	error: unknown flag: --bogus
//	See 'kubectl get --help' for usage.
//
// an unknown sub-verb of a group (rollout, set) is
//
//	error: unknown command "bogus"
//	See 'kubectl rollout -h' for help and examples
//
// and a group named alone prints its help on stderr; all three exit 1.

// usageErrors makes every group command under root refuse what it does not
// know, and root's flag errors say where to read the usage.
func usageErrors(root *cobra.Command) {
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return fmt.Errorf("%w\nSee '%s --help' for usage.", err, c.CommandPath())
	})
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			walk(sub)
		}
		if c == root || !c.HasSubCommands() || c.Runnable() {
			return
		}
		c.Args = cobra.ArbitraryArgs
		c.RunE = func(c *cobra.Command, args []string) error {
			if len(args) > 0 {
				return fmt.Errorf("unknown command %q\nSee '%s -h' for help and examples", strings.Join(args, " "), c.CommandPath())
			}
			c.SetOut(c.ErrOrStderr())
			if err := c.Help(); err != nil {
				return err
			}
			return &exitError{msg: "no sub-command given", code: 1}
		}
	}
	walk(root)
}

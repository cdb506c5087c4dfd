package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/cairn-io/cairn/client"
)

// readPassword asks for a password: without echo on a terminal, else one line of stdin (so
// scripts can pipe it in, as with etcdctl).
func readPassword(cmd *cobra.Command, prompt string) (string, error) {
	in := cmd.InOrStdin()
	if f, ok := in.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(cmd.ErrOrStderr(), prompt)
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(cmd.ErrOrStderr())
		return string(b), err
	}
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && (err != io.EOF || line == "") {
		return "", fmt.Errorf("reading the password from stdin: %w", err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// credentials applies --user and --auth to the definition, prompting for a password left out.
func (g *globalFlags) credentials(cmd *cobra.Command, d *client.ClusterDefinition) error {
	if g.user == "" {
		if g.authMode != "" && g.authMode != "native" {
			return fmt.Errorf("--auth %s needs --user", g.authMode)
		}
		return nil
	}
	user, password, ok := strings.Cut(g.user, ":")
	if !ok {
		var err error
		if password, err = readPassword(cmd, "Password: "); err != nil {
			return err
		}
	}
	switch g.authMode {
	case "", "native":
		d.WithNativeCredentials(user, password)
	case "external":
		d.WithExternalCredentials(user, password)
	default:
		return fmt.Errorf("--auth %q: want native or external", g.authMode)
	}
	return nil
}

// authAction runs fn with the auth API and prints done (etcdctl's wording) unless -o json.
func (g *globalFlags) authAction(cmd *cobra.Command, done string, fn func(ctx context.Context, a *client.AuthAdmin) error) error {
	return g.run(cmd, func(ctx context.Context, c *client.Cluster, _ *client.Session) error {
		if err := fn(ctx, c.Auth()); err != nil {
			return err
		}
		if g.output == "json" {
			return writeJSON(cmd.OutOrStdout(), map[string]string{"result": done})
		}
		fmt.Fprintln(cmd.OutOrStdout(), done)
		return nil
	})
}

func newUserCommand(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{Use: "user", Short: "Manage users (etcd's v2 auth)"}
	var roles []string
	grant := &cobra.Command{Use: "grant NAME --roles ROLE[,ROLE...]", Short: "Grant roles to a user", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.authAction(cmd, "User "+args[0]+" updated", func(ctx context.Context, a *client.AuthAdmin) error {
				return a.GrantUser(ctx, args[0], roles...)
			})
		}}
	revoke := &cobra.Command{Use: "revoke NAME --roles ROLE[,ROLE...]", Short: "Revoke roles from a user", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.authAction(cmd, "User "+args[0]+" updated", func(ctx context.Context, a *client.AuthAdmin) error {
				return a.RevokeUser(ctx, args[0], roles...)
			})
		}}
	for _, c := range []*cobra.Command{grant, revoke} {
		c.Flags().StringSliceVar(&roles, "roles", nil, "roles to grant or revoke")
		_ = c.MarkFlagRequired("roles")
	}
	cmd.AddCommand(
		&cobra.Command{Use: "add NAME[:PASSWORD]", Short: "Add a user (asks for the password when it is left out)", Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				name, password, ok := strings.Cut(args[0], ":")
				if !ok {
					var err error
					if password, err = readPassword(cmd, "New password: "); err != nil {
						return err
					}
				}
				return g.authAction(cmd, "User "+name+" created", func(ctx context.Context, a *client.AuthAdmin) error {
					return a.AddUser(ctx, name, password)
				})
			}},
		&cobra.Command{Use: "passwd NAME", Short: "Change a user's password", Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				password, err := readPassword(cmd, "New password: ")
				if err != nil {
					return err
				}
				return g.authAction(cmd, "Password updated", func(ctx context.Context, a *client.AuthAdmin) error {
					return a.ChangePassword(ctx, args[0], password)
				})
			}},
		&cobra.Command{Use: "remove NAME", Short: "Remove a user", Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				return g.authAction(cmd, "User "+args[0]+" removed", func(ctx context.Context, a *client.AuthAdmin) error {
					return a.RemoveUser(ctx, args[0])
				})
			}},
		&cobra.Command{Use: "get NAME", Short: "Show a user and its roles", Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				return g.run(cmd, func(ctx context.Context, c *client.Cluster, _ *client.Session) error {
					u, err := c.Auth().User(ctx, args[0])
					if err != nil {
						return err
					}
					if g.output == "json" {
						return writeJSON(cmd.OutOrStdout(), u)
					}
					names := make([]string, 0, len(u.Roles))
					for _, r := range u.Roles {
						names = append(names, r.Role)
					}
					fmt.Fprintf(cmd.OutOrStdout(), "User: %s\nRoles: %s\n", u.User, strings.Join(names, " "))
					return nil
				})
			}},
		&cobra.Command{Use: "list", Short: "List the users", Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				return g.run(cmd, func(ctx context.Context, c *client.Cluster, _ *client.Session) error {
					us, err := c.Auth().Users(ctx)
					if err != nil {
						return err
					}
					if g.output == "json" {
						return writeJSON(cmd.OutOrStdout(), us)
					}
					for _, u := range us {
						fmt.Fprintln(cmd.OutOrStdout(), u.User)
					}
					return nil
				})
			}},
		grant, revoke)
	return cmd
}

func newRoleCommand(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{Use: "role", Short: "Manage roles (etcd's v2 auth)"}
	var path string
	var read, write, rw bool
	perms := func() (r, w []string, err error) {
		if path == "" {
			return nil, nil, fmt.Errorf("--path is needed")
		}
		switch {
		case rw || (read && write):
			return []string{path}, []string{path}, nil
		case read:
			return []string{path}, nil, nil
		case write:
			return nil, []string{path}, nil
		}
		return nil, nil, fmt.Errorf("one of --read, --write or --readwrite is needed")
	}
	grant := &cobra.Command{Use: "grant NAME --path PATH --read|--write|--readwrite", Short: "Grant key access to a role", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, w, err := perms()
			if err != nil {
				return err
			}
			return g.authAction(cmd, "Role "+args[0]+" updated", func(ctx context.Context, a *client.AuthAdmin) error {
				return a.GrantRole(ctx, args[0], r, w)
			})
		}}
	revoke := &cobra.Command{Use: "revoke NAME --path PATH --read|--write|--readwrite", Short: "Revoke key access from a role", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, w, err := perms()
			if err != nil {
				return err
			}
			return g.authAction(cmd, "Role "+args[0]+" updated", func(ctx context.Context, a *client.AuthAdmin) error {
				return a.RevokeRole(ctx, args[0], r, w)
			})
		}}
	for _, c := range []*cobra.Command{grant, revoke} {
		c.Flags().StringVar(&path, "path", "", "key, or prefix ending in '*' (quote it: '/app/*')")
		c.Flags().BoolVar(&read, "read", false, "read access")
		c.Flags().BoolVar(&write, "write", false, "write access")
		c.Flags().BoolVar(&rw, "readwrite", false, "read and write access")
		c.Flags().BoolVar(&rw, "rw", false, "read and write access (short for --readwrite)")
	}
	cmd.AddCommand(
		&cobra.Command{Use: "add NAME", Short: "Add a role without permissions", Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				return g.authAction(cmd, "Role "+args[0]+" created", func(ctx context.Context, a *client.AuthAdmin) error {
					return a.AddRole(ctx, args[0])
				})
			}},
		&cobra.Command{Use: "remove NAME", Short: "Remove a role", Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				return g.authAction(cmd, "Role "+args[0]+" removed", func(ctx context.Context, a *client.AuthAdmin) error {
					return a.RemoveRole(ctx, args[0])
				})
			}},
		&cobra.Command{Use: "get NAME", Short: "Show a role's permissions", Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				return g.run(cmd, func(ctx context.Context, c *client.Cluster, _ *client.Session) error {
					r, err := c.Auth().Role(ctx, args[0])
					if err != nil {
						return err
					}
					if g.output == "json" {
						return writeJSON(cmd.OutOrStdout(), r)
					}
					out := cmd.OutOrStdout()
					fmt.Fprintf(out, "Role: %s\nKV Read:\n", r.Role)
					for _, p := range r.Read {
						fmt.Fprintf(out, "\t%s\n", p)
					}
					fmt.Fprintln(out, "KV Write:")
					for _, p := range r.Write {
						fmt.Fprintf(out, "\t%s\n", p)
					}
					return nil
				})
			}},
		&cobra.Command{Use: "list", Short: "List the roles", Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				return g.run(cmd, func(ctx context.Context, c *client.Cluster, _ *client.Session) error {
					rs, err := c.Auth().Roles(ctx)
					if err != nil {
						return err
					}
					if g.output == "json" {
						return writeJSON(cmd.OutOrStdout(), rs)
					}
					for _, r := range rs {
						fmt.Fprintln(cmd.OutOrStdout(), r.Role)
					}
					return nil
				})
			}},
		grant, revoke)
	return cmd
}

func newAuthCommand(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{Use: "auth", Short: "Turn authentication on or off"}
	cmd.AddCommand(
		&cobra.Command{Use: "enable", Short: "Turn auth on (the root user must exist)", Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				return g.authAction(cmd, "Authentication Enabled", func(ctx context.Context, a *client.AuthAdmin) error {
					return a.Enable(ctx)
				})
			}},
		&cobra.Command{Use: "disable", Short: "Turn auth off", Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				return g.authAction(cmd, "Authentication Disabled", func(ctx context.Context, a *client.AuthAdmin) error {
					return a.Disable(ctx)
				})
			}})
	return cmd
}

// Package config turns cairnd's command line, CAIRN_* environment variables and an optional
// YAML file into a node configuration. Flag names are etcd's where etcd has the same setting,
// so an etcd user can switch by changing the binary name.
//
// Precedence: a flag given on the command line, then the environment, then the file, then the
// default. It owns parsing and nothing else: it must never start anything.
package config

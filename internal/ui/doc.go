// Package ui owns the web dashboard that cairnd serves at /ui/ on the client port: its HTML,
// CSS and JavaScript, written by hand and embedded in the binary with go:embed, and the handler
// that serves them with fixed content types and a strict Content-Security-Policy (scripts and
// styles from the same origin only, no inline code, requests to the same origin only).
//
// The dashboard is a client of the ordinary APIs (/v1/cluster, /v2/members, /health, /v1/auth
// login) plus the keys API under APIPrefix, which internal/httpapi serves with one extra rule:
// a write made there needs the root role. This package must never decide who may do what, read
// or change the store, or load anything from outside the binary: no CDN, no build step.
package ui

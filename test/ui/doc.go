// Package ui drives cairnd's dashboard (/ui/) in a real browser: Debian's headless chromium,
// controlled by chromedp over a pipe (no debugging port), against clusters of real cairnd
// processes on loopback, checking what the page does with etcdctl. Each test keeps the
// screenshots it takes under $CAIRN_ARTIFACTS/ui/<test>, or
// ${CAIRN_CACHE:-$HOME/.cache/cairn}/artifacts/ui/<test>, and logs where.
//
// A missing chromium fails the tests rather than skipping them: scripts/deps.sh installs it.
// The tests must never reach anything but the loopback members they start.
package ui

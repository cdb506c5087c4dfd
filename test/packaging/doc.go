// Package packaging checks what deploy/ ships for hosts that are not Kubernetes: the systemd
// unit is verified by systemd's own analyzer against a root holding a real cairnd build. It
// never installs or starts anything on the machine it runs on.
package packaging

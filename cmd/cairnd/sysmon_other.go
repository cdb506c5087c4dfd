//go:build !linux

package main

// withSysmonSetting re-executes cairnd with Go's sysmon kept out of deep sleep on Linux
// (sysmon_linux.go); elsewhere cairnd runs as it is.
func withSysmonSetting() {}

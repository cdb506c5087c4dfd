package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/cairn-io/cairn/internal/testcluster"
	"github.com/cairn-io/cairn/internal/tlsconf/tlstest"
)

func TestCairnctlOverTLS(t *testing.T) {
	bin := buildCairnctl(t)
	set := tlstest.NewSet(t, "cairnctl")
	c := testcluster.New(t, 3, testcluster.WithElectionTimeout(300*time.Millisecond),
		testcluster.WithTLS(testcluster.TLS{Set: set, Client: true}))
	host := strings.TrimPrefix(c.Members[0].ClientURL, "https://")
	run := func(env []string, args ...string) (string, string, int) {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"--timeout", "5s"}, args...)...)
		cmd.Env = append(os.Environ(), env...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return stdout.String(), stderr.String(), code
	}
	tlsFlags := []string{"--hosts", host, "--cacert", set.CAFile, "--cert", set.ClientCertFile, "--key", set.ClientKeyFile}

	testcluster.CheckFor(t, 10*time.Second, 50*time.Millisecond, func() error {
		if _, errOut, code := run(nil, append(tlsFlags, "put", "/tls/color", "blue")...); code != 0 {
			return fmt.Errorf("put over TLS: exit %d: %s", code, errOut)
		}
		return nil
	})
	if out, errOut, code := run(nil, append(tlsFlags, "get", "/tls/color")...); code != 0 || !strings.Contains(out, "blue") {
		t.Fatalf("get over TLS: exit %d, %q %q", code, out, errOut)
	}
	// Every member is learned and reached over TLS.
	testcluster.CheckFor(t, 10*time.Second, 50*time.Millisecond, func() error {
		out, errOut, code := run(nil, append(tlsFlags, "member", "list")...)
		if code != 0 || strings.Count(out, "Online") != 3 || strings.Count(out, "https://") < 3 {
			return fmt.Errorf("member list over TLS: exit %d: %s %s", code, out, errOut)
		}
		return nil
	})

	// The same settings from CAIRNCTL_* variables.
	env := []string{"CAIRNCTL_HOSTS=" + host, "CAIRNCTL_CACERT=" + set.CAFile,
		"CAIRNCTL_CERT=" + set.ClientCertFile, "CAIRNCTL_KEY=" + set.ClientKeyFile}
	if out, errOut, code := run(env, "get", "/tls/color"); code != 0 || !strings.Contains(out, "blue") {
		t.Fatalf("get with CAIRNCTL_*: exit %d, %q %q", code, out, errOut)
	}
	// A flag given wins over its variable.
	if _, errOut, code := run(env, "--cacert", set.Dir+"/missing.pem", "get", "/tls/color"); code == 0 || !strings.Contains(errOut, "missing.pem") {
		t.Fatalf("--cacert over CAIRNCTL_CACERT: exit %d, %q", code, errOut)
	}

	// The seed's certificate is not for the name given in --hosts: refused, naming both.
	named := "127.0.0.1:elsewhere.example:" + strings.Split(host, ":")[1]
	_, errOut, code := run(nil, "--hosts", named, "--cacert", set.CAFile, "--cert", set.ClientCertFile, "--key", set.ClientKeyFile, "health")
	if code == 0 || !strings.Contains(errOut, "TLS verification failed") || !strings.Contains(errOut, `"elsewhere.example"`) {
		t.Fatalf("wrong name: exit %d, %q", code, errOut)
	}
	// Without the CA the certificate does not verify; --insecure-skip-tls-verify takes it anyway.
	noCA := []string{"--hosts", host, "--cert", set.ClientCertFile, "--key", set.ClientKeyFile}
	if _, errOut, code := run(nil, append(noCA, "get", "/tls/color")...); code == 0 || !strings.Contains(errOut, "unknown authority") {
		t.Fatalf("unknown CA: exit %d, %q", code, errOut)
	}
	if out, errOut, code := run([]string{"CAIRNCTL_INSECURE_SKIP_TLS_VERIFY=true"}, append(noCA, "get", "/tls/color")...); code != 0 || !strings.Contains(out, "blue") {
		t.Fatalf("--insecure-skip-tls-verify: exit %d, %q %q", code, out, errOut)
	}
	// No client certificate: the members require one.
	if _, errOut, code := run(nil, "--hosts", host, "--cacert", set.CAFile, "get", "/tls/color"); code == 0 || !strings.Contains(errOut, "no seed answered") {
		t.Fatalf("no client certificate: exit %d, %q", code, errOut)
	}
	// Plain HTTP to a TLS port gets nothing.
	if _, _, code := run(nil, "--hosts", host, "get", "/tls/color"); code == 0 {
		t.Fatal("plain cairnctl read from a TLS port")
	}
}

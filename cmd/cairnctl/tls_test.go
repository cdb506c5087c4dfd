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
	c := testcluster.New(t, 3, testcluster.WithTLS(testcluster.TLS{Set: set, Client: true}))
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
	// succeed polls until the command works and prints want: a cluster on a loaded machine may
	// be between leaders for a moment, which no single command outlasts.
	succeed := func(env []string, want string, args ...string) {
		t.Helper()
		testcluster.CheckFor(t, 20*time.Second, 50*time.Millisecond, func() error {
			out, errOut, code := run(env, args...)
			if code != 0 || !strings.Contains(out, want) {
				return fmt.Errorf("cairnctl %v: exit %d, %q %q", args, code, out, errOut)
			}
			return nil
		})
	}
	tlsFlags := []string{"--hosts", host, "--cacert", set.CAFile, "--cert", set.ClientCertFile, "--key", set.ClientKeyFile}

	succeed(nil, "", append(tlsFlags, "put", "/tls/color", "blue")...)
	succeed(nil, "blue", append(tlsFlags, "get", "/tls/color")...)
	// Every member is learned and reached over TLS.
	testcluster.CheckFor(t, 20*time.Second, 50*time.Millisecond, func() error {
		out, errOut, code := run(nil, append(tlsFlags, "member", "list")...)
		if code != 0 || strings.Count(out, "Online") != 3 || strings.Count(out, "https://") < 3 {
			return fmt.Errorf("member list over TLS: exit %d: %s %s", code, out, errOut)
		}
		return nil
	})

	// The same settings from CAIRNCTL_* variables.
	env := []string{"CAIRNCTL_HOSTS=" + host, "CAIRNCTL_CACERT=" + set.CAFile,
		"CAIRNCTL_CERT=" + set.ClientCertFile, "CAIRNCTL_KEY=" + set.ClientKeyFile}
	succeed(env, "blue", "get", "/tls/color")
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
	succeed([]string{"CAIRNCTL_INSECURE_SKIP_TLS_VERIFY=true"}, "blue", append(noCA, "get", "/tls/color")...)
	// No client certificate: the members require one.
	if _, errOut, code := run(nil, "--hosts", host, "--cacert", set.CAFile, "get", "/tls/color"); code == 0 || !strings.Contains(errOut, "no seed answered") {
		t.Fatalf("no client certificate: exit %d, %q", code, errOut)
	}
	// Plain HTTP to a TLS port gets nothing.
	if _, _, code := run(nil, "--hosts", host, "get", "/tls/color"); code == 0 {
		t.Fatal("plain cairnctl read from a TLS port")
	}

	// --endpoints as etcdctl takes them: https:// means TLS; http:// with a TLS flag is refused.
	certs := []string{"--cacert", set.CAFile, "--cert", set.ClientCertFile, "--key", set.ClientKeyFile}
	succeed(nil, "blue", append(append([]string{"--endpoints", "https://" + host}, certs...), "get", "/tls/color")...)
	succeed([]string{"CAIRNCTL_ENDPOINTS=https://" + host, "CAIRNCTL_CACERT=" + set.CAFile, "CAIRNCTL_CERT=" + set.ClientCertFile,
		"CAIRNCTL_KEY=" + set.ClientKeyFile}, "blue", "get", "/tls/color")
	if _, errOut, code := run(nil, append(append([]string{"--endpoints", "http://" + host}, certs...), "get", "/tls/color")...); code == 0 ||
		!strings.Contains(errOut, "use https:// endpoints") {
		t.Fatalf("http:// endpoints with TLS flags: exit %d, %q", code, errOut)
	}

	// `quorum` lists the members over TLS with the same flags, and finds that none of them
	// serves quorum queries (this cluster has no key); without the TLS flags it cannot list them.
	keyFile := set.Dir + "/quorum.key"
	tlstest.WriteFile(t, keyFile, []byte("k"))
	quorum := []string{"quorum", "ping", "--hosts", host, "--quorum-hmac-key-file", keyFile, "--timeout", "3s"}
	if _, errOut, code := run(env[1:], quorum...); code == 0 || strings.Contains(errOut, "cannot list the members") ||
		!strings.Contains(errOut, "no member publishes a quorum port") {
		t.Fatalf("quorum over TLS: exit %d, %q", code, errOut)
	}
	if _, errOut, code := run(nil, quorum...); code == 0 || !strings.Contains(errOut, "cannot list the members") {
		t.Fatalf("quorum without TLS flags against TLS members: exit %d, %q", code, errOut)
	}
}

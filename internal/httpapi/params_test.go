package httpapi

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/cairn-io/cairn/api"
)

func TestParseKeysRequestRefusesBadInput(t *testing.T) {
	for _, tc := range []struct {
		method, target, body string
		code                 int
		cause                string
	}{
		{"PUT", "/v2/keys/a?ttl=abc", "value=x", api.CodeTTLNaN, `invalid value for "ttl"`},
		{"PUT", "/v2/keys/a?ttl=-1", "value=x", api.CodeTTLNaN, `invalid value for "ttl"`},
		{"PUT", "/v2/keys/a?ttl=99999999999999999999", "value=x", api.CodeTTLNaN, `invalid value for "ttl"`},
		{"PUT", "/v2/keys/a?prevIndex=x", "value=x", api.CodeIndexNaN, `invalid value for "prevIndex"`},
		{"GET", "/v2/keys/a?wait=true&waitIndex=-3", "", api.CodeIndexNaN, `invalid value for "waitIndex"`},
		{"PUT", "/v2/keys/a?prevExist=maybe", "value=x", api.CodeInvalidField, "invalid value for prevExist"},
		{"PUT", "/v2/keys/a?prevValue=", "value=x", api.CodePrevValueRequired, `"prevValue" cannot be empty`},
		{"PUT", "/v2/keys/a?refresh=true&ttl=5&prevExist=true", "value=zz", api.CodeRefreshValue, "A value was provided on a refresh"},
		{"PUT", "/v2/keys/a?refresh=true&prevExist=true", "", api.CodeRefreshTTLRequired, "No TTL value set"},
		{"GET", "/v2/keys/a?recursive=yes", "", api.CodeInvalidField, `invalid value for "recursive"`},
		{"GET", "/v2/keys/a?bogus=1", "", api.CodeInvalidField, `unknown parameter "bogus"`},
		{"PUT", "/v2/keys/a?wait=true", "value=x", api.CodeInvalidField, `"wait" can only be used with GET requests`},
		{"GET", "/v2/keys/a?stream=true", "", api.CodeInvalidField, `"stream" can only be used with "wait"`},
		{"GET", "/v2/keys/a?waitIndex=3", "", api.CodeInvalidField, `"waitIndex" can only be used with "wait"`},
		{"GET", "/v2/keys/a?quorum=true&consistency=serializable", "", api.CodeInvalidField, "contradict"},
		{"GET", "/v2/keys/a?consistency=eventual", "", api.CodeInvalidField, "consistency"},
		{"PUT", "/v2/keys/a?dir=true", "value=x", api.CodeInvalidField, "a directory cannot have a value"},
		{"PUT", "/v2/keys/a?prevExist=false&prevIndex=3", "value=x", api.CodeInvalidField, "prevExist=false"},
		{"POST", "/v2/keys/q?prevValue=x", "value=x", api.CodeInvalidField, "in-order"},
		{"PUT", "/v2/keys/a%00b", "value=x", api.CodeInvalidField, "invalid key"},
		{"PUT", "/v2/keys/a%ffb", "value=x", api.CodeInvalidField, "invalid key"},
		{"PUT", "/v2/keys/a//b", "value=x", api.CodeInvalidField, "invalid key"},
		{"PUT", "/v2/keys/a/../b", "value=x", api.CodeInvalidField, "invalid key"},
		{"PUT", "/v2/keys/a/./b", "value=x", api.CodeInvalidField, "invalid key"},
		{"PUT", "/v2/keys/a?x=%zz", "value=x", api.CodeInvalidForm, "invalid URL escape"},
	} {
		r := httptest.NewRequest(tc.method, tc.target, strings.NewReader(tc.body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		form, _, err := readForm(r, DefaultLimits.MaxRequestBytes)
		if err == nil {
			_, err = parseKeysRequest(r, form, DefaultLimits)
		}
		var re *requestError
		if !errors.As(err, &re) || re.code != tc.code || !strings.Contains(re.cause, tc.cause) {
			t.Errorf("%s %s: want code %d with cause containing %q, got %v", tc.method, tc.target, tc.code, tc.cause, err)
		}
	}
}

func TestParseKeysRequestLimits(t *testing.T) {
	lim := Limits{MaxKeyBytes: 16, MaxValueBytes: 8, MaxRequestBytes: 64}
	for _, tc := range []struct {
		target, body string
		status       int
	}{
		{"/v2/keys/" + strings.Repeat("k", 20), "value=x", http.StatusBadRequest},
		{"/v2/keys/k", "value=" + strings.Repeat("v", 9), http.StatusRequestEntityTooLarge},
		{"/v2/keys/k", "value=" + strings.Repeat("v", 100), http.StatusRequestEntityTooLarge},
	} {
		r := httptest.NewRequest("PUT", tc.target, strings.NewReader(tc.body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		form, _, err := readForm(r, lim.MaxRequestBytes)
		if err == nil {
			_, err = parseKeysRequest(r, form, lim)
		}
		_, status := toAPIError(err)
		if err == nil || status != tc.status {
			t.Errorf("%s (%d body bytes): want %d, got %v (%d)", tc.target, len(tc.body), tc.status, err, status)
		}
	}
}

func TestParseKeysRequestAcceptsWhatClientsSend(t *testing.T) {
	// go.etcd.io/etcd/client/v2 sends an empty value with refresh, and value in the body.
	r := httptest.NewRequest("PUT", "/v2/keys/a?prevExist=true", strings.NewReader(url.Values{"value": {""}, "ttl": {"5"}, "refresh": {"true"}}.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	form, _, err := readForm(r, DefaultLimits.MaxRequestBytes)
	if err != nil {
		t.Fatal(err)
	}
	kr, err := parseKeysRequest(r, form, DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	if kr.key != "/a" || !kr.refresh || kr.ttl != 5 || kr.prevExist == nil || !*kr.prevExist {
		t.Fatalf("parsed %+v", kr)
	}
	cmd := kr.command()
	if cmd.Key != "/a" || cmd.TTL != 5 || !cmd.Refresh {
		t.Fatalf("command %+v", cmd)
	}
}

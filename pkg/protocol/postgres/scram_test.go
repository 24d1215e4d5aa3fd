package postgres

import (
	"encoding/base64"
	"strings"
	"testing"
)

// TestSCRAMChannelBinding: the GS2 header of the first message and the
// c attribute of the final one carry the binding, or say why there is
// none.
func TestSCRAMChannelBinding(t *testing.T) {
	cbind := []byte{0xde, 0xad, 0xbe, 0xef}
	for _, tt := range []struct {
		name     string
		cbind    []byte
		canBind  bool
		first, c string
	}{
		{"not on TLS", nil, false, "n,,", "biws"},
		{"on TLS, no -PLUS offered", nil, true, "y,,", "eSws"},
		{"bound", cbind, true, "p=tls-server-end-point,,", base64.StdEncoding.EncodeToString(append([]byte("p=tls-server-end-point,,"), cbind...))},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := newSCRAMClient("pencil", tt.cbind, tt.canBind)
			if err != nil {
				t.Fatal(err)
			}
			if first := string(c.first()); !strings.HasPrefix(first, tt.first+"n=,r=") {
				t.Errorf("client first %q, want the header %q", first, tt.first)
			}
			final, err := c.final([]byte("r=" + c.clientNonce + "xyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(string(final), "c="+tt.c+",") {
				t.Errorf("client final %q, want c=%s", final, tt.c)
			}
		})
	}
}

// TestSCRAMVector checks the exchange against the example of RFC 7677,
// section 3 (user "user", password "pencil").
func TestSCRAMVector(t *testing.T) {
	c := &scramClient{password: "pencil", clientNonce: "rOprNGfwEbeRWgbNEkqO", gs2: "n,,"}
	c.clientFirst = "n=user,r=" + c.clientNonce
	serverFirst := "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
	final, err := c.final([]byte(serverFirst))
	if err != nil {
		t.Fatal(err)
	}
	want := "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
	if string(final) != want {
		t.Errorf("client final\n got %s\nwant %s", final, want)
	}
	if err := c.verify([]byte("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")); err != nil {
		t.Errorf("server signature: %v", err)
	}
	if err := c.verify([]byte("v=AAAATRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")); err == nil {
		t.Error("a wrong server signature was accepted")
	}
}

func TestSCRAMRejectsBadServerFirst(t *testing.T) {
	tests := []struct{ name, serverFirst, want string }{
		{"nonce not extended", "r=other,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", "nonce"},
		{"same nonce", "r=abc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", "nonce"},
		{"bad salt", "r=abcdef,s=***,i=4096", "salt"},
		{"huge iteration count", "r=abcdef,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=999999999", "iteration"},
		{"zero iterations", "r=abcdef,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=0", "iteration"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &scramClient{password: "pw", clientNonce: "abc", clientFirst: "n=,r=abc"}
			_, err := c.final([]byte(tt.serverFirst))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want mention of %q", err, tt.want)
			}
		})
	}
}

func TestMD5Password(t *testing.T) {
	// md5(md5("secret" + "etl") + salt), computed with PostgreSQL's formula.
	got := md5Password("etl", "secret", [4]byte{1, 2, 3, 4})
	if len(got) != 35 || !strings.HasPrefix(got, "md5") {
		t.Fatalf("md5Password = %q", got)
	}
	if got == md5Password("etl", "secret", [4]byte{1, 2, 3, 5}) {
		t.Error("the salt does not change the answer")
	}
}

func TestSearchPathOption(t *testing.T) {
	tests := []struct {
		name, options, want string
		ok                  bool
	}{
		{"-c with space", "-c search_path=sales,public", "sales,public", true},
		{"-c joined", "-csearch_path=sales", "sales", true},
		{"double dash", "--search_path=staging", "staging", true},
		{"dash in name", "--search-path=staging", "staging", true},
		{"escaped space", `-c search_path=my\ schema`, "my schema", true},
		{"other settings only", "-c statement_timeout=5s -c work_mem=64MB", "", false},
		{"last of several", "-c search_path=a -c search_path=b", "b", true},
		{"empty", "", "", false},
		// PostgreSQL splits on every isspace character and reads the
		// words with getopt.
		{"form feed", "-c\fsearch_path=secret", "secret", true},
		{"carriage return", "-c\rsearch_path=secret", "secret", true},
		{"vertical tab", "-c\vsearch_path=secret", "secret", true},
		{"grouped switches", "-ecsearch_path=secret", "secret", true},
		{"grouped switches, argument apart", "-ec search_path=secret", "secret", true},
		{"a switch with an argument swallows the next word", "-p -csearch_path=secret", "", false},
		{"upper case", "-c SEARCH_PATH=secret", "secret", true},
		{"after a stray word", "x -c search_path=secret", "secret", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := searchPathOption(tt.options)
			if got != tt.want || ok != tt.ok {
				t.Errorf("searchPathOption(%q) = %q, %v; want %q, %v", tt.options, got, ok, tt.want, tt.ok)
			}
		})
	}
}

// The server's final message counts only after the exchange: before it,
// the expected signature is one anybody can compute.
func TestSCRAMOrder(t *testing.T) {
	c, err := newSCRAMClient("pencil", nil, false)
	if err != nil {
		t.Fatal(err)
	}
	c.first()
	forged := "v=" + base64.StdEncoding.EncodeToString(hmacSHA256(hmacSHA256(nil, "Server Key"), ""))
	if err := c.verify([]byte(forged)); err == nil {
		t.Fatal("a server-final-message before the exchange was accepted")
	}
}

package record

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
)

func TestEncryption(t *testing.T) {
	right, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	other, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	wrong, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	s, dir := openStore(t, Options{SampleRows: 5, Recipients: []string{right.Recipient().String(), other.Recipient().String()}})
	r := record(t, s, idA)
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, r.Path())
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"sales.orders", "DROP TABLE", "etl_reader", "/usr/bin/psql", "19.90", "42501", "127.0.0.2"} {
		if bytes.Contains(raw, []byte(secret)) {
			t.Errorf("encrypted recording holds %q in clear", secret)
		}
	}
	for _, public := range []string{`"identity":"nightly-etl"`, `"target":"orders-db"`, `"decision":"deny"`, `"denied":1`} {
		if !bytes.Contains(raw, []byte(public)) {
			t.Errorf("encrypted recording lacks the listable %s", public)
		}
	}

	t.Run("without identity", func(t *testing.T) {
		rd, entries := readAll(t, path, ReadOptions{})
		h := rd.Header()
		if !h.Encrypted || h.Identity != "nightly-etl" || h.Target != "orders-db" || h.Process.Exe != "" || h.User != "" {
			t.Errorf("public header %+v", h)
		}
		for _, e := range entries[:len(entries)-1] {
			if !e.Sealed || e.Data != nil {
				t.Errorf("seq %d: sealed %v, data %s", e.Seq, e.Sealed, e.Data)
			}
			if _, err := e.Decode(); !errors.Is(err, ErrEncrypted) {
				t.Errorf("seq %d: Decode: %v, want ErrEncrypted", e.Seq, err)
			}
		}
		if end := rd.End(); end == nil || end.Denied != 1 || end.Statements != 2 {
			t.Errorf("end %+v", end)
		}
	})
	t.Run("wrong identity", func(t *testing.T) {
		_, _, err := OpenFile(path, ReadOptions{Identities: []age.Identity{wrong}})
		if !errors.Is(err, ErrNoIdentity) {
			t.Fatalf("OpenFile with the wrong identity: %v, want ErrNoIdentity", err)
		}
		if !strings.Contains(err.Error(), "no identity matches the recording's recipients") {
			t.Errorf("unclear error: %v", err)
		}
	})
	for name, id := range map[string]age.Identity{"first recipient's identity": right, "second recipient's identity": other} {
		t.Run(name, func(t *testing.T) {
			ids, err := ReadIdentities(strings.NewReader("# identity file\n" + id.(interface{ String() string }).String() + "\n"))
			if err != nil {
				t.Fatal(err)
			}
			rd, entries := readAll(t, path, ReadOptions{Identities: append([]age.Identity{wrong}, ids...)})
			h := rd.Header()
			want := pgHeader(idA)
			want.Version, want.Host, want.Started = 1, "build-7", h.Started
			want.Encrypted, want.Recipients = true, []string{right.Recipient().String(), other.Recipient().String()}
			if !reflect.DeepEqual(*h, want) {
				t.Errorf("header\n%+v\nwant\n%+v", *h, want)
			}
			for i, ev := range pgEvents() {
				got, err := entries[i].Decode()
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, ev) {
					t.Errorf("event %d: %#v, want %#v", i+1, got, ev)
				}
			}
		})
	}
	infos, err := List(dir, Filter{Denied: true})
	if err != nil || len(infos) != 1 || infos[0].Denied != 1 || !infos[0].Encrypted || infos[0].Identity != "nightly-etl" {
		t.Errorf("List: %+v, %v", infos, err)
	}
	rep, err := Verify(dir, VerifyOptions{PublicKey: s.PublicKey()})
	if err != nil || len(rep.Problems) > 0 {
		t.Errorf("verify: %v %v", rep, err)
	}
}

// A write that fails must not leave its nonce to the next event.
func TestRetryNonce(t *testing.T) {
	id, _ := age.GenerateX25519Identity()
	s, dir := openStore(t, Options{Recipients: []string{id.Recipient().String()}, FsyncInterval: time.Hour})
	r, err := s.Create(pgHeader(idA))
	if err != nil {
		t.Fatal(err)
	}
	good := r.f
	ro, err := os.Open(good.Name())
	if err != nil {
		t.Fatal(err)
	}
	r.f = ro // writes fail with EBADF
	if _, err := r.Append(pgEvents()[1]); !errors.Is(err, ErrWrite) {
		t.Fatalf("Append to a read-only file: %v, want ErrWrite", err)
	}
	r.f = good
	ro.Close()
	seq, err := r.Append(pgEvents()[3])
	if err != nil || seq != 1 {
		t.Fatalf("Append after the failure: %d, %v", seq, err)
	}
	if err := r.Close(Summary{Reason: "client_closed"}); err != nil {
		t.Fatal(err)
	}
	ls := lines(t, filepath.Join(dir, r.Path()))
	if !bytes.Contains(ls[1], []byte(`"retry":1`)) {
		t.Errorf("event after a failed write: %s, want retry 1", ls[1])
	}
	_, entries := readAll(t, filepath.Join(dir, r.Path()), ReadOptions{Identities: []age.Identity{id}})
	if got, _ := entries[0].Decode(); !reflect.DeepEqual(got, pgEvents()[3]) {
		t.Errorf("decrypted %#v", got)
	}
}

func TestHybridRecipient(t *testing.T) {
	id, err := age.GenerateHybridIdentity()
	if err != nil {
		t.Fatal(err)
	}
	s, dir := openStore(t, Options{Recipients: []string{id.Recipient().String()}})
	r := record(t, s, idA)
	_, entries := readAll(t, filepath.Join(dir, r.Path()), ReadOptions{Identities: []age.Identity{id}})
	if got, _ := entries[3].Decode(); !reflect.DeepEqual(got, pgEvents()[3]) {
		t.Errorf("decrypted %#v", got)
	}
}

func TestMixedRecipients(t *testing.T) {
	pq, _ := age.GenerateHybridIdentity()
	classic, _ := age.GenerateX25519Identity()
	base := t.TempDir()
	_, err := Open(filepath.Join(base, "recordings"), Options{HostKey: installKey(t, base),
		Recipients: []string{classic.Recipient().String(), pq.Recipient().String()}})
	if err == nil || !strings.Contains(err.Error(), "post-quantum") {
		t.Fatalf("Open with mixed recipients: %v", err)
	}
}

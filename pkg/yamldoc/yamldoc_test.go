package yamldoc

import (
	"errors"
	"testing"
)

var errTestInvalid = errors.New("invalid test file")

func TestJoinClassesAndSorts(t *testing.T) {
	errs := []*Error{
		{File: "b.yaml", Line: 1, Msg: "third"},
		{File: "a.yaml", Line: 7, Path: "x.y", Msg: "second"},
		{File: "a.yaml", Line: 2, Msg: "first", Cause: ErrSyntax},
	}
	err := Join(errTestInvalid, errs)
	if got, want := err.Error(), "a.yaml:2: first\na.yaml:7: x.y: second\nb.yaml:1: third"; got != want {
		t.Errorf("Join =\n%s\nwant\n%s", got, want)
	}
	if !errors.Is(err, errTestInvalid) || !errors.Is(err, ErrSyntax) {
		t.Errorf("%v should match the class and ErrSyntax", err)
	}
	if Join(errTestInvalid, nil) != nil {
		t.Error("Join of no errors is not nil")
	}
}

func TestDocument(t *testing.T) {
	msgs := Messages{Empty: "empty", Multiple: "several"}
	tests := []struct {
		name, yaml, want string
		syntax           bool
	}{
		{"one document", "a: 1\n", "", false},
		{"empty", "", "f.yaml:1: empty", false},
		{"null document", "~\n", "f.yaml:1: empty", false},
		{"two documents", "a: 1\n---\nb: 2\n", "f.yaml:2: several", false},
		{"syntax error", "a: [1\n", "f.yaml:2: YAML syntax error: did not find expected ',' or ']'", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root, err := Document("f.yaml", []byte(tt.yaml), msgs)
			if tt.want == "" {
				if err != nil || root == nil {
					t.Fatalf("Document = %v, %v", root, err)
				}
				return
			}
			if err == nil || err.Error() != tt.want {
				t.Fatalf("Document error = %v, want %s", err, tt.want)
			}
			if errors.Is(err, ErrSyntax) != tt.syntax {
				t.Errorf("errors.Is(ErrSyntax) = %v", !tt.syntax)
			}
		})
	}
}

func TestSuggest(t *testing.T) {
	keys := []string{"search_path", "server_name", "tls"}
	for in, want := range map[string]string{"serch_path": "search_path", "tsl": "tls", "database": "", "x": ""} {
		if got := Suggest(in, keys); got != want {
			t.Errorf("Suggest(%q) = %q, want %q", in, got, want)
		}
	}
}

package hashlist

import (
	"strings"
	"testing"

	"github.com/vouchsafe/vouchsafe/psi"
)

func TestReadHashRecords(t *testing.T) {
	in := "# comment\n\n0123456789ABCDEF01234567\n" +
		`{"path":"a.jpg","hash":"00112233445566778899aabb","width":512,"height":512}` + "\n" +
		`{"path":"b.jpg","error":"cannot decode"}` + "\n"
	recs, skipped, err := ReadHashRecords(strings.NewReader(in))
	if err != nil || len(recs) != 2 || skipped != 1 {
		t.Fatalf("%v %d %v", recs, skipped, err)
	}
	if recs[0].Hash != "0123456789abcdef01234567" || recs[1].Path != "a.jpg" {
		t.Fatalf("%+v", recs)
	}
	for _, bad := range []string{"0123", "zz23456789abcdef01234567", `{"hash":"12"}`, `{"hash":`, "0123456789abcdef0123456789"} {
		if _, _, err := ReadHashRecords(strings.NewReader(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	// Two records on one line (issue 11): the second used to be dropped.
	two := `{"path":"ok.jpg","hash":"00112233445566778899aabb"}` + "\n" +
		`{"path":"a","hash":"00112233445566778899aabb"}` + "\x8a" + `{"path":"b","hash":"ffeeddccbbaa998877665544"}` + "\n"
	if _, _, err := ReadHashRecords(strings.NewReader(two)); err == nil || !strings.Contains(err.Error(), "line 2:") {
		t.Errorf("two records on a line: %v", err)
	}
	glued := `{"path":"a","hash":"00112233445566778899aabb"}{"path":"b","hash":"ffeeddccbbaa998877665544"}`
	if _, _, err := ReadHashRecords(strings.NewReader(glued)); err == nil || !strings.Contains(err.Error(), "line 1:") {
		t.Errorf("glued records: %v", err)
	}
}

func FuzzReadHashRecords(f *testing.F) {
	f.Add("0123456789abcdef01234567\n# c\n{\"path\":\"a\",\"hash\":\"0123456789abcdef01234567\"}\n")
	f.Add("{\"error\":\"x\"}")
	f.Fuzz(func(t *testing.T, s string) {
		recs, _, err := ReadHashRecords(strings.NewReader(s))
		if err != nil {
			return
		}
		for _, r := range recs {
			if _, err := psi.ParseHash(r.Hash); err != nil {
				t.Fatal(err)
			}
		}
	})
}

package agent

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	elevator "github.com/elevatorhq/elevator"
)

func TestEnvFilesReadBackExactlyWhatWasWritten(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"PLAIN":        "value",
		"EMPTY":        "",
		"SPACES":       "  leading and trailing  ",
		"QUOTES":       `"double" and 'single'`,
		"SHELLISH":     "$HOME `id` $(id) \\n # not a comment",
		"EQUALS":       "a=b=c",
		"DATABASE_URL": "postgres://u:p%40ss@h:5432/db",
		"UNICODE":      "héllo wörld ✓",
		"_UNDERSCORE":  "x",
	}
	data, err := FormatEnv(env)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseEnv(data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, env) {
		t.Errorf("read back %q, want %q", got, env)
	}
	if !strings.HasPrefix(string(data), "DATABASE_URL=") {
		t.Errorf("variables are not in name order:\n%s", data)
	}
}

func TestEnvFilesRefuseWhatTheyCannotCarryNamingOnlyTheVariable(t *testing.T) {
	t.Parallel()
	const secret = "s3cr3t-value"
	for name, value := range map[string]string{
		"NEWLINE":  secret + "\nSECOND=line",
		"CR":       secret + "\r",
		"NUL":      secret + "\x00",
		"NOT_UTF8": secret + "\xff",
		"HUGE":     secret + strings.Repeat("x", 64*1024),
	} {
		_, err := FormatEnv(map[string]string{"OK": "fine", name: value})
		if elevator.ErrorCode(err) != elevator.EINVALID || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: %v, want EINVALID naming the variable", name, err)
		}
		if err != nil && strings.Contains(err.Error(), secret) {
			t.Errorf("%s: the error holds the value: %v", name, err)
		}
	}
	for _, bad := range []string{"1ABC", "A-B", "A B", "", "A=B"} {
		if _, err := FormatEnv(map[string]string{bad: "v"}); elevator.ErrorCode(err) != elevator.EINVALID {
			t.Errorf("name %q: %v, want EINVALID", bad, err)
		}
	}
}

func TestWriteEnvFileIsRootOnlyAndAtomic(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "run", "elevator")
	path := filepath.Join(dir, "web.env")
	if err := WriteEnvFile(path, map[string]string{"A": "1"}); err != nil {
		t.Fatal(err)
	}
	if err := WriteEnvFile(path, map[string]string{"A": "2"}); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
		t.Errorf("dir mode %v, want 0700", fi.Mode().Perm())
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("file mode %v, want 0600", fi.Mode().Perm())
	}
	if data, _ := os.ReadFile(path); string(data) != "A=2\n" {
		t.Errorf("file %q, want A=2", data)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("dir holds %d entries, want the file alone (no temporary left)", len(entries))
	}
	// A refused value leaves the old file as it was.
	if err := WriteEnvFile(path, map[string]string{"A": "3\n"}); err == nil {
		t.Fatal("a value with a newline was written")
	}
	if data, _ := os.ReadFile(path); string(data) != "A=2\n" {
		t.Errorf("after a refused write the file is %q", data)
	}
}

func TestParseEnvReadsAsDockerDoes(t *testing.T) {
	t.Parallel()
	got, err := ParseEnv([]byte("# a comment\n\n   INDENTED=yes\nA=1\r\nB= spaced \n"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"INDENTED": "yes", "A": "1\r", "B": " spaced "}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if _, err := ParseEnv([]byte("A=1\nno equals sign here\n")); elevator.ErrorCode(err) != elevator.EINVALID || !strings.Contains(err.Error(), "line 2") || strings.Contains(err.Error(), "equals") {
		t.Errorf("a bad line: %v, want EINVALID naming line 2 and not its text", err)
	}
}

// FuzzEnvFile checks that whatever FormatEnv writes, ParseEnv reads back
// the same, and that a refusal never quotes the value.
func FuzzEnvFile(f *testing.F) {
	for _, seed := range [][2]string{
		{"A", "1"}, {"DATABASE_URL", "postgres://u:p@h:1/d"}, {"X", "a\nb"}, {"X", "\r"}, {"_", ""},
		{"Y", " # x"}, {"Z", "\xff\xfe"}, {"1A", "v"}, {"A=B", "v"}, {"Q", `"quoted"`}, {"N", "a\x00b"},
	} {
		f.Add(seed[0], seed[1], "OTHER", "value")
	}
	f.Fuzz(func(t *testing.T, n1, v1, n2, v2 string) {
		env := map[string]string{n1: v1, n2: v2}
		data, err := FormatEnv(env)
		if err != nil {
			if elevator.ErrorCode(err) != elevator.EINVALID {
				t.Fatalf("refusal with code %s: %v", elevator.ErrorCode(err), err)
			}
			for n, v := range env {
				if len(v) >= 8 && !strings.Contains(n1+n2, v) && strings.Contains(err.Error(), v) {
					t.Fatalf("the refusal quotes the value of %s: %v", n, err)
				}
			}
			return
		}
		got, err := ParseEnv(data)
		if err != nil {
			t.Fatalf("ParseEnv of FormatEnv's output: %v\n%q", err, data)
		}
		if !reflect.DeepEqual(got, env) {
			t.Fatalf("read back %q, want %q", got, env)
		}
		if !utf8.Valid(data) {
			t.Fatalf("wrote invalid UTF-8: %q", data)
		}
	})
}

// FuzzParseEnv checks that any file ParseEnv reads gives valid names, and
// that writing what it read and reading it again changes nothing.
func FuzzParseEnv(f *testing.F) {
	for _, seed := range []string{"A=1\n", "# c\n\n  B= x \r\n", "bad line\n", "A=1\nA=2", "=v\n", "X=a=b\n\x00", "É=1\n"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		env, err := ParseEnv(data)
		if err != nil {
			if strings.Contains(err.Error(), "=") && !strings.Contains(err.Error(), "NAME=value") {
				t.Fatalf("the refusal quotes the file: %v", err)
			}
			return
		}
		for n := range env {
			if !envName.MatchString(n) {
				t.Fatalf("read a variable named %q", n)
			}
		}
		out, err := FormatEnv(env)
		if err != nil {
			return // a value docker's reader takes and an env file should not carry (a lone \r)
		}
		again, err := ParseEnv(out)
		if err != nil || !reflect.DeepEqual(again, env) {
			t.Fatalf("read %q, wrote %q, read back %q (%v)", env, out, again, err)
		}
	})
}

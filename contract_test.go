package elevator

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/scanner"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// A contract is a name Elevator shares with AWS or between its packages,
// written once, in its home file in this package. contracts says how a copy
// of each looks in a Go string literal.
var contracts = []struct {
	name    string
	literal *regexp.Regexp // matches a copy in a string literal's value
	except  *regexp.Regexp // matches what looks like a copy and is not, or nil
	homes   []string       // the files allowed to write it
	use     string         // what to use instead
}{
	{"a tag key", regexp.MustCompile(`elevator:[a-z]`), nil,
		[]string{"names.go", "names_test.go"}, "Tag* constants or AllowTag"},
	// Any literal ending in /elevator/ builds a path under it (but
	// /etc/elevator/ is a directory on instances), and a literal path of
	// an app or a service is one written out.
	{"an IAM or app path", regexp.MustCompile(`/elevator/$|^/elevator/([^/]+/){2,3}$`), regexp.MustCompile(`/etc/elevator/$`),
		[]string{"names.go", "names_test.go"}, "AppPath or IAMPath"},
	{"a state table name", regexp.MustCompile(`elevator-(releases|locks|images)\b`), nil,
		[]string{"names.go", "names_test.go"}, "ReleasesTableName, LocksTableName or ImagesTableName"},
	{"the state bucket name", regexp.MustCompile(`^elevator-(\$\{AWS::AccountId\}|[0-9]{12})-`), nil,
		[]string{"names.go", "names_test.go"}, "StateBucketName"},
	{"a region pattern", regexp.MustCompile(`\[a-z\]\{2\}\(-\[a-z\]\+\)\+-`), nil,
		[]string{"names.go"}, "IsRegionName"},
}

// contractNames are the names of contracts (and of their former copies)
// that no package but this one may declare at top level.
var contractNames = []string{
	"TagApp", "TagOrbit", "TagService", "TagRelease", "TagRegion", "TagTier", "TagManagedBy", "TagAllow", "ManagedBy",
	"AllowTag", "AppPath", "IAMPath", "ProfilePath", "BucketName", "StateBucketName",
	"ReleasesTable", "LocksTable", "ReleasesTableName", "LocksTableName", "ImagesTableName", "ImagesKeyApp", "ImagesKeyImage",
	"SubnetTier", "TierPublic", "TierPrivate", "TierData", "TierMaintenance",
	"DefaultTimeout", "DefaultReleaseTimeout", "regionPattern", "regionCode", "IsRegionName",
	"ParseSchedule", "CheckCron", "ExpandUserData",
}

// TestEveryContractHasOneHome reads every Go file of the module (tests
// too; testdata and hidden directories aside) and fails on a string
// literal that copies a contract outside its home, or a package other than
// this one declaring a contract's name.
func TestEveryContractHasOneHome(t *testing.T) {
	copies, seen, err := findCopies(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range copies {
		t.Error(c)
	}
	// A rule that finds nothing in its own home checks nothing.
	for _, c := range contracts {
		if !seen[c.name] {
			t.Errorf("no literal matching %s in %v: the rule is out of date", c.name, c.homes)
		}
	}
}

// TestACopyOfAContractIsFound makes sure the walk fails on a copy: one of
// each kind, in a module of one file.
func TestACopyOfAContractIsFound(t *testing.T) {
	dir := t.TempDir()
	src := `package x

const tag = "elevator:app"

var (
	path   = "/elevator/" + "o"
	table  = "prod-elevator-locks"
	bucket = "elevator-123456789012-us-east-1-prod"
	region = ` + "`^[a-z]{2}(-[a-z]+)+-[0-9]$`" + `
	dir    = "/etc/elevator/" + "web.env" // not a contract
)

func CheckCron(string) error { return nil }
`
	if err := os.MkdirAll(filepath.Join(dir, "internal", "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "internal", "x", "x.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	copies, _, err := findCopies(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"a tag key", "an IAM or app path", "a state table name", "the state bucket name", "a region pattern", "declares CheckCron"}
	if len(copies) != len(want) {
		t.Errorf("found %d copies, want %d:\n%s", len(copies), len(want), strings.Join(copies, "\n"))
	}
	for _, w := range want {
		if !slices.ContainsFunc(copies, func(c string) bool { return strings.Contains(c, w) }) {
			t.Errorf("the copy of %s was not found in:\n%s", w, strings.Join(copies, "\n"))
		}
	}
}

// findCopies walks the module at root and describes every copy of a
// contract outside its home; seen says which contracts matched in their
// home.
func findCopies(root string) (copies []string, seen map[string]bool, err error) {
	seen = map[string]bool{}
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != root && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if !strings.HasSuffix(rel, ".go") || rel == "contract_test.go" {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		fset := token.NewFileSet()
		var s scanner.Scanner
		s.Init(fset.AddFile(rel, -1, len(src)), src, nil, 0)
		for {
			pos, tok, lit := s.Scan()
			if tok == token.EOF {
				break
			}
			if tok != token.STRING {
				continue
			}
			v, err := strconv.Unquote(lit)
			if err != nil {
				return fmt.Errorf("%s: %v", fset.Position(pos), err)
			}
			for _, c := range contracts {
				if !c.literal.MatchString(v) || (c.except != nil && c.except.MatchString(v)) {
					continue
				}
				if slices.Contains(c.homes, rel) {
					seen[c.name] = true
					continue
				}
				copies = append(copies, fmt.Sprintf("%s: %q copies %s; use elevator's %s instead", fset.Position(pos), v, c.name, c.use))
			}
		}
		if !strings.Contains(rel, "/") {
			return nil // this package is the contracts' home
		}
		f, err := parser.ParseFile(fset, rel, src, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		for _, decl := range f.Decls {
			switch decl := decl.(type) {
			case *ast.FuncDecl:
				if decl.Recv == nil && slices.Contains(contractNames, decl.Name.Name) {
					copies = append(copies, fmt.Sprintf("%s: declares %s, a contract of package elevator", fset.Position(decl.Pos()), decl.Name.Name))
				}
			case *ast.GenDecl:
				for _, spec := range decl.Specs {
					if vs, ok := spec.(*ast.ValueSpec); ok {
						for _, n := range vs.Names {
							if slices.Contains(contractNames, n.Name) {
								copies = append(copies, fmt.Sprintf("%s: declares %s, a contract of package elevator", fset.Position(n.Pos()), n.Name))
							}
						}
					}
				}
			}
		}
		return nil
	})
	return copies, seen, err
}

//go:build ignore

// testreport reads `go test -json` events on stdin and prints output like a
// plain (non -v) `go test` run: package lines ("ok", "FAIL", ...) and the
// output of failing tests only. At the end it prints the failed tests and the
// slowest packages, and writes "passed failed skipped" counts to the file
// given with -counts.
//
// Usage: go test -json ./... | go run scripts/testreport.go -counts FILE
//
// Exits 1 if any test or package failed. It lives outside the module's
// package tree (build tag "ignore") and uses only the standard library.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"
)

type event struct {
	Time       time.Time
	Action     string
	Package    string
	ImportPath string
	Test       string
	Elapsed    float64
	Output     string
}

type key struct{ pkg, test string }

func main() {
	countsFile := flag.String("counts", "", "write 'passed failed skipped' to this file")
	flag.Parse()

	var (
		passed, failed, skipped int
		buf                     = map[key][]string{}
		failedTests             []string
		failedPkgs              []string
		pkgElapsed              = map[string]float64{}
		pkgHadTestFail          = map[string]bool{}
	)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()

	flushPkg := func(pkg string) {
		// Print output of tests that never finished (timeout, panic, crash).
		for k, lines := range buf {
			if k.pkg == pkg {
				for _, l := range lines {
					out.WriteString(l)
				}
				delete(buf, k)
			}
		}
	}

	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1024*1024), 64*1024*1024)
	for sc.Scan() {
		line := sc.Bytes()
		var ev event
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &ev) != nil {
			out.Write(line)
			out.WriteString("\n")
			continue
		}
		switch {
		case ev.Action == "build-output":
			out.WriteString(ev.Output)
		case ev.Action == "build-fail":
			// The package "fail" event that follows records the failure.
		case ev.Test == "":
			// Package-level event.
			switch ev.Action {
			case "output":
				if strings.HasPrefix(ev.Output, "FAIL") {
					// Unfinished tests' output (timeout, crash) goes
					// before the package's FAIL line.
					flushPkg(ev.Package)
				}
				if ev.Output != "PASS\n" { // as plain go test: no bare PASS
					out.WriteString(ev.Output)
				}
			case "pass":
				pkgElapsed[ev.Package] = ev.Elapsed
			case "fail":
				pkgElapsed[ev.Package] = ev.Elapsed
				flushPkg(ev.Package)
				failedPkgs = append(failedPkgs, ev.Package)
				if !pkgHadTestFail[ev.Package] {
					// Build failure, TestMain failure, timeout, crash
					// outside a test: count the package as one failure.
					failed++
				}
			}
		default:
			k := key{ev.Package, ev.Test}
			switch ev.Action {
			case "output":
				if !strings.HasPrefix(ev.Output, "=== ") {
					buf[k] = append(buf[k], ev.Output)
				}
			case "pass":
				passed++
				delete(buf, k)
			case "skip":
				skipped++
				delete(buf, k)
			case "fail":
				failed++
				pkgHadTestFail[ev.Package] = true
				failedTests = append(failedTests, ev.Package+"."+ev.Test)
				for _, l := range buf[k] {
					out.WriteString(l)
				}
				delete(buf, k)
			}
		}
		out.Flush()
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintln(out, "testreport: reading input:", err)
		failed++
	}
	for k := range buf {
		flushPkg(k.pkg)
	}

	fmt.Fprintln(out)
	if len(failedTests) > 0 || len(failedPkgs) > 0 {
		fmt.Fprintln(out, "=== Failures")
		for _, t := range failedTests {
			fmt.Fprintln(out, "  FAIL test   ", t)
		}
		for _, p := range failedPkgs {
			fmt.Fprintln(out, "  FAIL package", p)
		}
	}
	type pe struct {
		pkg string
		s   float64
	}
	var pes []pe
	for p, s := range pkgElapsed {
		pes = append(pes, pe{p, s})
	}
	sort.Slice(pes, func(i, j int) bool { return pes[i].s > pes[j].s })
	if len(pes) > 5 {
		pes = pes[:5]
	}
	if len(pes) > 0 {
		fmt.Fprintln(out, "=== Slowest packages")
		for _, p := range pes {
			fmt.Fprintf(out, "  %7.1fs %s\n", p.s, p.pkg)
		}
	}
	fmt.Fprintf(out, "go test: %d passed, %d failed, %d skipped\n", passed, failed, skipped)

	if *countsFile != "" {
		if err := os.WriteFile(*countsFile, fmt.Appendf(nil, "%d %d %d\n", passed, failed, skipped), 0o644); err != nil {
			fmt.Fprintln(out, "testreport:", err)
			failed++
		}
	}
	if failed > 0 {
		out.Flush()
		os.Exit(1)
	}
}

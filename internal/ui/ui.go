// Package ui holds what the command line shows to a person: sizes and
// durations in words, a progress line that redraws itself on a terminal,
// and the passphrase prompt. Machine output (--json) never goes through it.
package ui

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"
)

// Bytes formats a size with binary units.
func Bytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// Duration formats a duration for people.
func Duration(d time.Duration) string {
	switch {
	case d < time.Second:
		return fmt.Sprintf("%d ms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.1f s", d.Seconds())
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}

// IsTerminal reports whether f is a terminal.
func IsTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

// Status redraws one line on a terminal every interval until Stop.
type Status struct {
	out  io.Writer
	fn   func() string
	stop chan struct{}
	wg   sync.WaitGroup
	last int
}

// StartStatus begins redrawing fn() on out (only when out is a terminal;
// otherwise it does nothing, so logs stay clean).
func StartStatus(out *os.File, interval time.Duration, fn func() string) *Status {
	s := &Status{out: out, fn: fn, stop: make(chan struct{})}
	if !IsTerminal(out) {
		return s
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				s.clear()
				return
			case <-t.C:
				s.draw(fn())
			}
		}
	}()
	return s
}

func width() int {
	if w, _, err := term.GetSize(int(os.Stderr.Fd())); err == nil && w > 20 {
		return w
	}
	return 80
}

func (s *Status) draw(line string) {
	w := width() - 1
	if r := []rune(line); len(r) > w {
		line = string(r[:w])
	}
	pad := ""
	if n := len([]rune(line)); n < s.last {
		pad = strings.Repeat(" ", s.last-n)
	}
	fmt.Fprintf(s.out, "\r%s%s", line, pad)
	s.last = len([]rune(line))
}

func (s *Status) clear() {
	if s.last > 0 {
		fmt.Fprintf(s.out, "\r%s\r", strings.Repeat(" ", s.last))
	}
}

// Stop erases the line.
func (s *Status) Stop() {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	s.wg.Wait()
}

// Bar draws a text progress bar of width w for a fraction.
func Bar(frac float64, w int) string {
	if frac < 0 {
		frac = 0
	}
	if frac > 1 {
		frac = 1
	}
	full := int(frac * float64(w))
	return "[" + strings.Repeat("=", full) + strings.Repeat(" ", w-full) + "]"
}

// ErrNoPassword means no passphrase source was available.
var ErrNoPassword = errors.New("no passphrase given: set REMPART_PASSWORD, use --password-file FILE, or run in a terminal to be asked")

// ReadPasswordFile reads the first line of a file.
func ReadPasswordFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("reading password file: %w", err)
	}
	defer f.Close()
	line, err := bufio.NewReader(f).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("reading password file: %w", err)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", fmt.Errorf("password file %s is empty", path)
	}
	return line, nil
}

// Prompt asks for a secret on the terminal (without echo).
func Prompt(label string) (string, error) {
	if !IsTerminal(os.Stdin) {
		return "", ErrNoPassword
	}
	fmt.Fprint(os.Stderr, label)
	b, err := term.ReadPassword(int(os.Stdin.Fd()))
	fmt.Fprintln(os.Stderr)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

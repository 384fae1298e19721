package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/rempart/rempart/internal/crisis/sfu"
)

// child is the SFU process.
type child struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	addr  string
}

func startChild(ctx context.Context, o options) (*child, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("bench: executable: %w", err)
	}
	cmd := exec.CommandContext(ctx, exe, "-serve", "-bwe="+strconv.FormatBool(o.bwe),
		"-cpuprofile="+o.cpuprofile, "-memprofile="+o.memprofile)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("bench: child stdin: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("bench: child stdout: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench: start sfu: %w", err)
	}
	addr, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		_ = cmd.Process.Kill()
		return nil, fmt.Errorf("bench: sfu address: %w", err)
	}
	return &child{cmd: cmd, stdin: stdin, addr: strings.TrimSpace(addr)}, nil
}

func (c *child) stop() {
	_ = c.stdin.Close()
	done := make(chan struct{})
	go func() { _ = c.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = c.cmd.Process.Kill()
		<-done
	}
}

// dial opens a signalling connection for one participant.
func (c *child) dial(id string) (net.Conn, error) {
	conn, err := net.Dial("tcp4", c.addr)
	if err != nil {
		return nil, fmt.Errorf("bench: dial sfu: %w", err)
	}
	if err := json.NewEncoder(conn).Encode(hello{Room: "bench", ID: id}); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("bench: hello: %w", err)
	}
	return conn, nil
}

func (c *child) metrics() (sfu.Metrics, error) {
	var m sfu.Metrics
	conn, err := net.Dial("tcp4", c.addr)
	if err != nil {
		return m, fmt.Errorf("bench: dial sfu: %w", err)
	}
	defer func() { _ = conn.Close() }()
	if err := json.NewEncoder(conn).Encode(hello{Metrics: true}); err != nil {
		return m, fmt.Errorf("bench: metrics request: %w", err)
	}
	if err := json.NewDecoder(conn).Decode(&m); err != nil {
		return m, fmt.Errorf("bench: metrics: %w", err)
	}
	return m, nil
}

// clockTicks is USER_HZ, 100 on every Linux architecture Rempart targets.
const clockTicks = 100

// cpuSeconds reads utime+stime of a process from /proc/PID/stat.
func cpuSeconds(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("bench: stat: %w", err)
	}
	// The command name may contain spaces: fields start after ')'.
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		return 0, fmt.Errorf("bench: short /proc/%d/stat", pid)
	}
	ut, err1 := strconv.ParseFloat(fields[11], 64)
	st, err2 := strconv.ParseFloat(fields[12], 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("bench: parse /proc/%d/stat", pid)
	}
	return (ut + st) / clockTicks, nil
}

// memKB reads a field (VmRSS, VmHWM) of /proc/PID/status in KiB.
func memKB(pid int, field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, field+":") {
			f := strings.Fields(line)
			if len(f) >= 2 {
				n, _ := strconv.ParseInt(f[1], 10, 64)
				return n
			}
		}
	}
	return 0
}

func numCPU() int { return runtime.NumCPU() }

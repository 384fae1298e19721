package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"github.com/rempart/rempart/internal/crisis/sfu"
)

// hello is the first line of every signalling connection to the child.
type hello struct {
	Room    string `json:"room,omitempty"`
	ID      string `json:"id,omitempty"`
	Metrics bool   `json:"metrics,omitempty"` // answer one Metrics line and close
}

// serve runs the SFU alone in this process so the parent can read its CPU
// time from /proc without counting the synthetic clients. It prints its
// TCP signalling address on stdout and runs until stdin closes or SIGTERM.
func serve(bwe bool, cpuprofile, memprofile string) error {
	if cpuprofile != "" {
		f, err := os.Create(cpuprofile)
		if err != nil {
			return fmt.Errorf("bench: profile: %w", err)
		}
		defer func() { _ = f.Close() }()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("bench: profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	srv, err := sfu.NewServer(sfu.Config{UDPMux: "127.0.0.1:0", Loopback: true, DisableBWE: !bwe, Logger: log})
	if err != nil {
		return fmt.Errorf("bench: sfu: %w", err)
	}
	defer func() { _ = srv.Close() }()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("bench: listen: %w", err)
	}
	defer func() { _ = ln.Close() }()
	fmt.Println(ln.Addr().String())

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() {
		_, _ = bufio.NewReader(os.Stdin).ReadString('\n') // parent gone or done
		stop()
	}()
	go func() {
		<-ctx.Done()
		_ = ln.Close()
	}()
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return writeHeap(memprofile)
			}
			return fmt.Errorf("bench: accept: %w", err)
		}
		go handle(ctx, srv, conn, log)
	}
}

func handle(ctx context.Context, srv *sfu.Server, conn net.Conn, log *slog.Logger) {
	defer func() { _ = conn.Close() }()
	// Read the hello byte by byte so no signalling bytes are buffered away
	// from the StreamSignal that takes over the connection.
	var line []byte
	b := make([]byte, 1)
	for {
		if _, err := conn.Read(b); err != nil {
			return
		}
		if b[0] == '\n' {
			break
		}
		line = append(line, b[0])
	}
	var h hello
	if err := json.Unmarshal(line, &h); err != nil {
		return
	}
	if h.Metrics {
		_ = json.NewEncoder(conn).Encode(srv.Metrics())
		return
	}
	if err := srv.Join(ctx, h.Room, h.ID, sfu.NewStreamSignal(conn)); err != nil && ctx.Err() == nil {
		log.Warn("bench: session ended", "id", h.ID, "err", err)
	}
}

// writeHeap saves a heap profile, taken while the sessions still run.
func writeHeap(path string) error {
	if path == "" {
		return nil
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("bench: heap profile: %w", err)
	}
	defer func() { _ = f.Close() }()
	if err := pprof.WriteHeapProfile(f); err != nil {
		return fmt.Errorf("bench: heap profile: %w", err)
	}
	return nil
}

// Command sfu is the crisis room SFU's load tool: it joins N synthetic
// publishers (audio + simulcast camera) and M receive-only subscribers to
// one room on loopback, and reports forwarded packets per second per SFU
// core, the SFU's CPU and memory per participant, and the end-to-end added
// latency, as a Markdown table.
//
//	go run ./bench/sfu -publishers 25 -subscribers 0 -duration 20s -layers 3
//
// The SFU runs in a child process (this binary re-executed with -serve) so
// that its CPU time, read from /proc, excludes the synthetic clients.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"
)

type options struct {
	publishers, subscribers, layers int
	duration, warmup                time.Duration
	grid, bwe                       bool
	cpuprofile, memprofile          string
}

func main() {
	var o options
	serveMode := flag.Bool("serve", false, "run the SFU child (internal)")
	flag.IntVar(&o.publishers, "publishers", 5, "participants publishing audio and camera (they also receive everything)")
	flag.IntVar(&o.subscribers, "subscribers", 5, "receive-only participants")
	flag.IntVar(&o.layers, "layers", 3, "simulcast layers per camera (1-3)")
	flag.DurationVar(&o.duration, "duration", 20*time.Second, "measurement window")
	flag.DurationVar(&o.warmup, "warmup", 3*time.Second, "settling time after every track is received")
	flag.BoolVar(&o.grid, "grid", true, "receivers ask for the low layer on every tile but the speaker's (high); false = automatic layers from the bandwidth estimate")
	flag.BoolVar(&o.bwe, "bwe", true, "transport-wide congestion control toward subscribers")
	flag.StringVar(&o.cpuprofile, "cpuprofile", "", "write the SFU process's CPU profile to this file")
	flag.StringVar(&o.memprofile, "memprofile", "", "write the SFU process's heap profile to this file at the end")
	flag.Parse()

	if *serveMode {
		if err := serve(o.bwe, o.cpuprofile, o.memprofile); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	if o.layers < 1 || o.layers > 3 || o.publishers < 1 || o.subscribers < 0 {
		fmt.Fprintln(os.Stderr, "bench: need 1-3 layers, at least one publisher")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.duration+o.warmup+2*time.Minute)
	defer cancel()
	res, err := run(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	res.print(os.Stdout, o)
}

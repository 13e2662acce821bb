// The task benchmarks of bench/task-bench.c, written with goroutines:
// `taskbench BENCH [N]` prints "BENCH VALUE". GOMAXPROCS is 1 unless the
// environment sets it. See bench/peers/README.md.
package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func rssBytes() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "VmRSS:") {
			fields := strings.Fields(line)
			kb, _ := strconv.ParseInt(fields[1], 10, 64)
			return kb * 1024
		}
	}
	return -1
}

func spawnJoin(n int) float64 {
	t0 := time.Now()
	res := make([]int64, n)
	var wg sync.WaitGroup
	wg.Add(n)
	for i := 0; i < n; i++ {
		go func(i int) {
			res[i] = 1
			wg.Done()
		}(i)
	}
	wg.Wait()
	var sum int64
	for _, v := range res {
		sum += v
	}
	if sum != int64(n) {
		panic("lost a result")
	}
	return float64(n) / time.Since(t0).Seconds()
}

// mtSpawnJoin: one root goroutine per P, each spawning its share of n
// goroutines and waiting for them (bench/task-bench.c mt_spawn_join).
func mtSpawnJoin(n int) float64 {
	w := runtime.GOMAXPROCS(0)
	t0 := time.Now()
	var total int64
	var roots sync.WaitGroup
	roots.Add(w)
	for r := 0; r < w; r++ {
		go func(share int) {
			var wg sync.WaitGroup
			var sum int64
			wg.Add(share)
			for i := 0; i < share; i++ {
				go func() {
					atomic.AddInt64(&sum, 1)
					wg.Done()
				}()
			}
			wg.Wait()
			atomic.AddInt64(&total, sum)
			roots.Done()
		}(n / w)
	}
	roots.Wait()
	if total != int64(n/w*w) {
		panic("lost a result")
	}
	return float64(n/w*w) / time.Since(t0).Seconds()
}

// fanout: the main goroutine starts n goroutines, each does a little work
// and counts itself down; the main one waits for the last (fan-in).
func fanout(n int) float64 {
	t0 := time.Now()
	var wg sync.WaitGroup
	wg.Add(n)
	for i := 0; i < n; i++ {
		go func(x uint64) {
			for k := 0; k < 8; k++ {
				x ^= x << 13
				x ^= x >> 7
				x ^= x << 17
			}
			// The fan-in is the WaitGroup alone; x (never 0) feeds it.
			if x == 0 {
				wg.Add(1)
			}
			wg.Done()
		}(uint64(i)*2654435761 + 1)
	}
	wg.Wait()
	return float64(n) / time.Since(t0).Seconds()
}

// fanoutIn: the same from a goroutine other than main's (main's is one
// already: Go's fan-out is always from inside).
func fanoutIn(n int) float64 {
	var v float64
	done := make(chan struct{})
	go func() {
		v = fanout(n)
		close(done)
	}()
	<-done
	return v
}

func pingpong(n int) float64 {
	toA := make(chan struct{})
	toB := make(chan struct{})
	t0 := time.Now()
	go func() {
		for i := 0; i < n; i++ {
			<-toB
			toA <- struct{}{}
		}
	}()
	for i := 0; i < n; i++ {
		toB <- struct{}{}
		<-toA
	}
	return float64(n) / time.Since(t0).Seconds()
}

// Two goroutines wake each other n times through unbuffered channels;
// with GOMAXPROCS=2 the scheduler decides where each runs.
func mtPingpong(n int) float64 {
	toA := make(chan struct{})
	toB := make(chan struct{})
	done := make(chan struct{})
	t0 := time.Now()
	go func() {
		for i := 0; i < n; i++ {
			<-toB
			toA <- struct{}{}
		}
	}()
	go func() {
		for i := 0; i < n; i++ {
			toB <- struct{}{}
			<-toA
		}
		close(done)
	}()
	<-done
	return float64(n) / time.Since(t0).Seconds()
}

var sink byte

func parkedRSS(n int) float64 {
	gate := make(chan struct{})
	var parked, done int64
	var wg sync.WaitGroup
	runtime.GC()
	before := rssBytes()
	wg.Add(n)
	for i := 0; i < n; i++ {
		go func(i int) {
			var data [64]byte
			data[i%64] = byte(i)
			atomic.AddInt64(&parked, 1)
			<-gate
			if data[5] == 255 {
				sink = data[5]
			}
			atomic.AddInt64(&done, 1)
			wg.Done()
		}(i)
	}
	for atomic.LoadInt64(&parked) < int64(n) {
		runtime.Gosched()
	}
	after := rssBytes()
	close(gate)
	wg.Wait()
	return float64(after-before) / float64(n)
}

func sleeps(n int, late bool) float64 {
	start := time.Now()
	base, span := time.Second, time.Second
	if late {
		base = 10 * time.Millisecond
	}
	var armed int64
	lateness := make([]int64, n)
	var early int64
	var wg sync.WaitGroup
	runtime.GC()
	before := rssBytes()
	wg.Add(n)
	for i := 0; i < n; i++ {
		deadline := start.Add(base + time.Duration(int64(span)*int64(i)/int64(n)))
		go func(i int, deadline time.Time) {
			atomic.AddInt64(&armed, 1)
			time.Sleep(time.Until(deadline))
			now := time.Now()
			if now.Before(deadline) {
				atomic.AddInt64(&early, 1)
			} else {
				lateness[i] = int64(now.Sub(deadline))
			}
			wg.Done()
		}(i, deadline)
	}
	for atomic.LoadInt64(&armed) < int64(n) {
		runtime.Gosched()
	}
	after := rssBytes()
	if armedIn := time.Since(start); armedIn >= base {
		fmt.Fprintf(os.Stderr, "taskbench: arming took %v, past the first deadline (%v): "+
			"early sleeps ran late (or already ended)\n", armedIn, base)
	}
	wg.Wait()
	if !late {
		return float64(after-before) / float64(n)
	}
	if early != 0 {
		fmt.Fprintf(os.Stderr, "taskbench: %d sleeps woke early\n", early)
		os.Exit(1)
	}
	sort.Slice(lateness, func(a, b int) bool { return lateness[a] < lateness[b] })
	return float64(lateness[n*99/100]) / 1000.0
}

// echo PORT: a TCP echo server on 127.0.0.1:PORT (0: any), a goroutine
// per connection; prints "listening on PORT"; runs until killed.
func echo(port string) {
	ln, err := net.Listen("tcp", "127.0.0.1:"+port)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("listening on %d\n", ln.Addr().(*net.TCPAddr).Port)
	for {
		c, err := ln.Accept()
		if err != nil {
			continue
		}
		go func(c net.Conn) {
			defer c.Close()
			buf := make([]byte, 4096)
			for {
				n, err := c.Read(buf)
				if n > 0 {
					if _, werr := c.Write(buf[:n]); werr != nil {
						return
					}
				}
				if err != nil {
					return
				}
			}
		}(c)
	}
}

func main() {
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(1)
	}
	bench := ""
	if len(os.Args) > 1 {
		bench = os.Args[1]
	}
	if bench == "echo" {
		port := "0"
		if len(os.Args) > 2 {
			port = os.Args[2]
		}
		echo(port)
		return
	}
	n := 1000000
	if bench == "sleep_late" {
		n = 100000
	}
	if len(os.Args) > 2 {
		if v, err := strconv.Atoi(os.Args[2]); err == nil && v > 0 {
			n = v
		}
	}
	var v float64
	switch bench {
	case "spawn_join":
		v = spawnJoin(n)
	case "pingpong":
		v = pingpong(n)
	case "mt_spawn_join":
		v = mtSpawnJoin(n)
	case "mt_pingpong":
		v = mtPingpong(n)
	case "fanout":
		v = fanout(n)
	case "fanout_in":
		v = fanoutIn(n)
	case "parked_rss":
		v = parkedRSS(n)
	case "sleep_rss":
		v = sleeps(n, false)
	case "sleep_late":
		v = sleeps(n, true)
	default:
		fmt.Fprintln(os.Stderr, "usage: taskbench spawn_join|pingpong|parked_rss|sleep_rss|sleep_late|mt_spawn_join|mt_pingpong|fanout|fanout_in [N]")
		os.Exit(2)
	}
	fmt.Printf("%s %.1f\n", bench, v)
}

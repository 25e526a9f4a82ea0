package main

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"time"
)

// demoTextProducer is the demo-text:// source: a timestamped JSON message
// every interval, optionally padded to a size. It exercises the engine
// without any camera, and its timestamps let a client measure how long a
// message took from producer to viewer.
//
//	demo-text://?interval=100ms&size=1024
type demoTextProducer struct {
	interval time.Duration
	size     int
}

// demoText limits keep a page from asking decoder to flood itself.
const (
	demoTextMinInterval = time.Millisecond
	demoTextMaxSize     = 1 << 20
	// demoTextMaxRate bounds a source's bytes per second: a page must not
	// make decoder push gigabytes a second to itself.
	demoTextMaxRate = 4e6
)

func newDemoTextProducer(src *url.URL, _ sourceOptions) (Producer, error) {
	p := &demoTextProducer{interval: 100 * time.Millisecond}
	q, err := sourceQuery(src)
	if err != nil {
		return nil, err
	}
	for key := range q {
		if key != "interval" && key != "size" {
			return nil, fmt.Errorf("unknown parameter %q (known: interval, size)", key)
		}
	}
	if v := q.Get("interval"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < demoTextMinInterval || d > time.Hour {
			return nil, fmt.Errorf("interval %q must be a duration from %v to 1h, such as 100ms", v, demoTextMinInterval)
		}
		p.interval = d
	}
	if v := q.Get("size"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > demoTextMaxSize {
			return nil, fmt.Errorf("size %q must be a number of bytes from 0 to %d", v, demoTextMaxSize)
		}
		p.size = n
	}
	if rate := float64(max(p.size, 100)) * float64(time.Second) / float64(p.interval); rate > demoTextMaxRate {
		return nil, fmt.Errorf("size %d every %v is %.1f MB/s; demo-text:// sends at most %.0f MB/s", p.size, p.interval, rate/1e6, demoTextMaxRate/1e6)
	}
	return p, nil
}

func (p *demoTextProducer) Run(ctx context.Context, feed *Feed) error {
	feed.SetStatus(Status{State: stateLive})
	ticker := time.NewTicker(p.interval)
	defer ticker.Stop()
	for seq := uint64(1); ; seq++ {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ticker.C:
			feed.Publish(Message{Data: p.message(seq, time.Now()), Start: true})
		}
	}
}

// message formats one data message, padded with a "pad" field up to size.
func (p *demoTextProducer) message(seq uint64, now time.Time) []byte {
	b := make([]byte, 0, max(p.size, 96))
	b = append(b, `{"type":"data","seq":`...)
	b = strconv.AppendUint(b, seq, 10)
	b = append(b, `,"ts":`...)
	b = strconv.AppendInt(b, now.UnixNano(), 10)
	b = append(b, `,"time":"`...)
	b = now.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, '"')
	if pad := p.size - len(b) - len(`,"pad":""}`); pad > 0 {
		b = append(b, `,"pad":"`...)
		for range pad {
			b = append(b, '.')
		}
		b = append(b, '"')
	}
	return append(b, '}')
}

package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// tsReader reads the MPEG-TS that ffmpeg writes: the programme's tables,
// then its H.264, H.265 and AAC elementary streams, one PES packet at a
// time. It is written here, small and linear, because a general demuxer
// copies every PES over again for each 188-byte packet it adds, which for
// the keyframes of a transcode costs more than the rest of decoder's share
// of it. It is not safe for concurrent use.
type tsReader struct {
	r       *bufio.Reader
	pkt     [tsPacketSize]byte
	pmtPID  int
	streams map[int]*tsStream
	// ready is set once the programme's streams are known; before, at most
	// maxTSBeforeTables packets are read.
	ready   bool
	packets int
	queued  []tsPES
}

// maxTSBeforeTables bounds what is read before the tables: output that
// holds none in its first 256 KiB is not MPEG-TS, however long it goes on.
const maxTSBeforeTables = 256 << 10 / tsPacketSize

// tsPacketSize is the size of a transport stream packet.
const tsPacketSize = 188

// Stream types of the PMT that tsReader reads.
const (
	tsTypeAAC  = 0x0f // ADTS
	tsTypeH264 = 0x1b
	tsTypeH265 = 0x24
)

// tsStream is one elementary stream and its PES being assembled.
type tsStream struct {
	typ     byte
	pes     []byte
	started bool
}

// tsPES is one complete PES packet: its stream type, timestamps (90 kHz;
// dts equals pts when the packet has none) and payload.
type tsPES struct {
	typ      byte
	pts, dts int64
	data     []byte
}

func newTSReader(r io.Reader) *tsReader {
	return &tsReader{r: bufio.NewReaderSize(r, 64<<10), pmtPID: -1, streams: map[int]*tsStream{}}
}

// errNotTS is what tsReader says of input that is not a transport stream.
var errNotTS = errors.New("not MPEG-TS")

// next returns the next complete PES packet. A video PES without a length
// is complete when the next one of its stream begins.
func (t *tsReader) next() (tsPES, error) {
	for {
		if len(t.queued) > 0 {
			p := t.queued[0]
			t.queued = t.queued[1:]
			return p, nil
		}
		if _, err := io.ReadFull(t.r, t.pkt[:]); err != nil {
			return tsPES{}, err
		}
		if t.pkt[0] != 0x47 {
			return tsPES{}, errNotTS
		}
		if t.packets++; !t.ready && t.packets > maxTSBeforeTables {
			return tsPES{}, fmt.Errorf("%w: no tables", errNotTS)
		}
		pid := int(t.pkt[1]&0x1f)<<8 | int(t.pkt[2])
		start := t.pkt[1]&0x40 != 0
		payload, ok := tsPayload(t.pkt[:])
		if !ok {
			continue
		}
		switch {
		case pid == 0:
			t.readPAT(payload, start)
		case pid == t.pmtPID:
			t.readPMT(payload, start)
		default:
			if s := t.streams[pid]; s != nil {
				var err error
				if t.queued, err = s.add(t.queued, payload, start); err != nil {
					return tsPES{}, err
				}
			}
		}
	}
}

// hasAudio reports whether the programme has an AAC stream.
func (t *tsReader) hasAudio() bool {
	for _, s := range t.streams {
		if s.typ == tsTypeAAC {
			return true
		}
	}
	return false
}

// tsPayload is a packet's payload, after its adaptation field.
func tsPayload(pkt []byte) ([]byte, bool) {
	afc := pkt[3] >> 4 & 0x3
	switch afc {
	case 1:
		return pkt[4:], true
	case 3:
		n := int(pkt[4])
		if 5+n > len(pkt) {
			return nil, false
		}
		return pkt[5+n:], true
	}
	return nil, false
}

// section is a PSI section's body from the first packet of a table.
func section(payload []byte, start bool) ([]byte, bool) {
	if !start || len(payload) < 1 {
		return nil, false
	}
	p := payload[1+int(payload[0]):] // pointer field
	if len(p) < 3 {
		return nil, false
	}
	n := int(p[1]&0x0f)<<8 | int(p[2])
	if 3+n > len(p) || n < 9 {
		return nil, false
	}
	return p[3 : 3+n-4], true // without the CRC
}

// readPAT finds the PMT of the first programme.
func (t *tsReader) readPAT(payload []byte, start bool) {
	s, ok := section(payload, start)
	if !ok {
		return
	}
	for p := s[5:]; len(p) >= 4; p = p[4:] {
		if program := int(p[0])<<8 | int(p[1]); program != 0 {
			t.pmtPID = int(p[2]&0x1f)<<8 | int(p[3])
			return
		}
	}
}

// readPMT finds the programme's streams decoder reads.
func (t *tsReader) readPMT(payload []byte, start bool) {
	s, ok := section(payload, start)
	if !ok || t.ready || len(s) < 9 {
		return
	}
	infoLen := int(s[7]&0x0f)<<8 | int(s[8])
	if 9+infoLen > len(s) {
		return
	}
	for p := s[9+infoLen:]; len(p) >= 5; {
		typ, pid := p[0], int(p[1]&0x1f)<<8|int(p[2])
		esLen := int(p[3]&0x0f)<<8 | int(p[4])
		if typ == tsTypeAAC || typ == tsTypeH264 || typ == tsTypeH265 {
			t.streams[pid] = &tsStream{typ: typ}
		}
		if 5+esLen > len(p) {
			break
		}
		p = p[5+esLen:]
	}
	t.ready = true
}

// add takes a packet's payload, and appends to done the PES it completes:
// the one before, when this one starts a new PES, and this one, when its
// length says it is whole.
func (s *tsStream) add(done []tsPES, payload []byte, start bool) ([]tsPES, error) {
	if start {
		if s.started {
			p, err := s.parse()
			if err != nil {
				return done, err
			}
			done = append(done, p)
		}
		s.pes, s.started = append(s.pes[:0], payload...), true
	} else if s.started {
		s.pes = append(s.pes, payload...)
	}
	if s.started && len(s.pes) >= 6 {
		if n := int(s.pes[4])<<8 | int(s.pes[5]); n > 0 && len(s.pes) >= 6+n {
			p, err := s.parse()
			if err != nil {
				return done, err
			}
			s.started = false
			done = append(done, p)
		}
	}
	return done, nil
}

// parse reads the PES held: its header's timestamps, and its payload,
// which the caller owns.
func (s *tsStream) parse() (tsPES, error) {
	b := s.pes
	if len(b) < 9 || b[0] != 0 || b[1] != 0 || b[2] != 1 {
		return tsPES{}, fmt.Errorf("%w: a PES without its start code", errNotTS)
	}
	if n := int(b[4])<<8 | int(b[5]); n > 0 && 6+n <= len(b) {
		b = b[:6+n]
	}
	flags, hlen := b[7], int(b[8])
	if 9+hlen > len(b) {
		return tsPES{}, fmt.Errorf("%w: a PES header longer than its packet", errNotTS)
	}
	p := tsPES{typ: s.typ, data: append([]byte(nil), b[9+hlen:]...)}
	if flags&0x80 != 0 && hlen >= 5 {
		p.pts = tsTimestamp(b[9:])
		p.dts = p.pts
	}
	if flags&0x40 != 0 && hlen >= 10 {
		p.dts = tsTimestamp(b[14:])
	}
	return p, nil
}

// tsTimestamp reads a 33-bit PES timestamp.
func tsTimestamp(b []byte) int64 {
	return int64(b[0]>>1&0x07)<<30 | int64(b[1])<<22 | int64(b[2]>>1)<<15 | int64(b[3])<<7 | int64(b[4]>>1)
}

package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/gortsplib/v5/pkg/liberrors"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts"
	tscodecs "github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts/codecs"
	"github.com/pion/rtp"
)

// testCamera is an RTSP server in the test process (gortsplib's) that
// publishes MPEG-TS clips in real time, one after the other, looping, the
// way a camera sends its stream. Parameter sets travel in the stream only,
// not in the SDP, as many cameras do. It counts RTSP sessions, which is how
// a test proves that viewers share one upstream.
type testCamera struct {
	t     testing.TB
	clips [][]byte
	user  string // when set, DESCRIBE needs user and pass
	pass  string
	addr  string

	// paused stops the packets while the connections stay up: a camera
	// that hangs.
	paused atomic.Bool
	// mutateVideo, when set, changes each video access unit before it is
	// sent (i counts them from 0): a camera with a broken encoder.
	mutateVideo func(i int, au [][]byte) [][]byte
	// redirect, when set, answers every DESCRIBE with a redirect there.
	redirect string
	// g711, when set, is the camera's audio instead of the clips': 8 kHz
	// G.711 (A-law, or µ-law with mulaw), looped, in 20 ms packets.
	g711  []byte
	mulaw bool

	mu        sync.Mutex
	server    *gortsplib.Server
	stream    *gortsplib.ServerStream
	opened    int
	closed    int
	closeErr  []error
	conns     int      // TCP connections accepted
	describes []string // the URL of each DESCRIBE, as requested
	stop      context.CancelFunc
	done      chan struct{}
}

// startTestCamera serves clips at rtsp://127.0.0.1:port/stream.
func startTestCamera(t testing.TB, clips ...[]byte) *testCamera {
	t.Helper()
	c := &testCamera{t: t, clips: clips}
	c.start()
	t.Cleanup(c.Stop)
	return c
}

func (c *testCamera) url() string { return "rtsp://" + c.addr + "/stream" }

// start listens (on addr if set, which a restart keeps) and publishes.
func (c *testCamera) start() {
	c.t.Helper()
	desc, err := clipDescription(c.clips[0])
	if err != nil {
		c.t.Fatal(err)
	}
	if c.g711 != nil {
		pt := uint8(8)
		if c.mulaw {
			pt = 0
		}
		desc.Medias = append(desc.Medias[:1], &description.Media{Type: description.MediaTypeAudio,
			Formats: []format.Format{&format.G711{PayloadTyp: pt, MULaw: c.mulaw, SampleRate: 8000, ChannelCount: 1}}})
	}
	addr := c.addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	var ln net.Listener
	srv := &gortsplib.Server{
		Handler:     c,
		RTSPAddress: addr,
		// Room for a keyframe of 8 MiB, which some tests send.
		WriteQueueSize: 8192,
		Listen: func(network, address string) (net.Listener, error) {
			var err error
			ln, err = net.Listen(network, address)
			return ln, err
		},
	}
	// The port may still be held by the previous server for a moment.
	deadline := time.Now().Add(5 * time.Second)
	for {
		if err = srv.Start(); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		c.t.Fatalf("RTSP server: %v", err)
	}
	stream := &gortsplib.ServerStream{Server: srv, Desc: desc}
	if err := stream.Initialize(); err != nil {
		c.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	c.mu.Lock()
	c.server, c.stream, c.stop, c.done = srv, stream, cancel, done
	c.addr = ln.Addr().String()
	c.mu.Unlock()
	go func() {
		defer close(done)
		start := time.Now()
		var wg sync.WaitGroup
		if c.g711 != nil {
			wg.Go(func() { publishG711(ctx, stream, c.g711, start, &c.paused) })
		}
		publishClips(ctx, stream, c.clips, start, &c.paused, c.mutateVideo)
		wg.Wait()
	}()
}

// Stop kills the server: connections close without TEARDOWN, as when a
// camera loses power.
func (c *testCamera) Stop() {
	c.mu.Lock()
	srv, stream, stop, done := c.server, c.stream, c.stop, c.done
	c.server = nil
	c.mu.Unlock()
	if srv == nil {
		return
	}
	stop()
	<-done
	stream.Close()
	srv.Close()
}

// Restart brings the camera back on the same address.
func (c *testCamera) Restart() {
	c.Stop()
	c.start()
}

// sessions reports the RTSP sessions opened and closed so far.
func (c *testCamera) sessions() (opened, closed int, errs []error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.opened, c.closed, append([]error(nil), c.closeErr...)
}

// requests reports the TCP connections accepted and the DESCRIBE requests
// received so far.
func (c *testCamera) requests() (conns int, describes []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.conns, append([]string(nil), c.describes...)
}

func (c *testCamera) OnConnOpen(*gortsplib.ServerHandlerOnConnOpenCtx) {
	c.mu.Lock()
	c.conns++
	c.mu.Unlock()
}

func (c *testCamera) OnSessionOpen(*gortsplib.ServerHandlerOnSessionOpenCtx) {
	c.mu.Lock()
	c.opened++
	c.mu.Unlock()
}

func (c *testCamera) OnSessionClose(ctx *gortsplib.ServerHandlerOnSessionCloseCtx) {
	c.mu.Lock()
	c.closed++
	c.closeErr = append(c.closeErr, ctx.Error)
	c.mu.Unlock()
}

func (c *testCamera) OnDescribe(ctx *gortsplib.ServerHandlerOnDescribeCtx) (*base.Response, *gortsplib.ServerStream, error) {
	c.mu.Lock()
	c.describes = append(c.describes, ctx.Request.URL.String())
	c.mu.Unlock()
	if c.redirect != "" {
		return &base.Response{StatusCode: base.StatusFound, Header: base.Header{"Location": base.HeaderValue{c.redirect}}}, nil, nil
	}
	if c.user != "" && !ctx.Conn.VerifyCredentials(ctx.Request, c.user, c.pass) {
		return &base.Response{StatusCode: base.StatusUnauthorized}, nil, liberrors.ErrServerAuth{}
	}
	if ctx.Path != "/stream" {
		return &base.Response{StatusCode: base.StatusNotFound}, nil, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return &base.Response{StatusCode: base.StatusOK}, c.stream, nil
}

func (c *testCamera) OnSetup(*gortsplib.ServerHandlerOnSetupCtx) (*base.Response, *gortsplib.ServerStream, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return &base.Response{StatusCode: base.StatusOK}, c.stream, nil
}

func (c *testCamera) OnPlay(*gortsplib.ServerHandlerOnPlayCtx) (*base.Response, error) {
	return &base.Response{StatusCode: base.StatusOK}, nil
}

// clipTracks finds a clip's video and AAC tracks.
func clipTracks(r *mpegts.Reader) (video, audio *mpegts.Track) {
	for _, t := range r.Tracks() {
		switch t.Codec.(type) {
		case *tscodecs.H264, *tscodecs.H265:
			if video == nil {
				video = t
			}
		case *tscodecs.MPEG4Audio:
			if audio == nil {
				audio = t
			}
		}
	}
	return video, audio
}

// clipDescription is the SDP of a clip: its video (without parameter sets)
// and its audio.
func clipDescription(clip []byte) (*description.Session, error) {
	r := &mpegts.Reader{R: bytes.NewReader(clip)}
	if err := r.Initialize(); err != nil {
		return nil, err
	}
	video, audio := clipTracks(r)
	desc := &description.Session{}
	switch video.Codec.(type) {
	case *tscodecs.H264:
		desc.Medias = append(desc.Medias, &description.Media{Type: description.MediaTypeVideo,
			Formats: []format.Format{&format.H264{PayloadTyp: 96, PacketizationMode: 1}}})
	case *tscodecs.H265:
		desc.Medias = append(desc.Medias, &description.Media{Type: description.MediaTypeVideo,
			Formats: []format.Format{&format.H265{PayloadTyp: 96}}})
	}
	if audio != nil {
		cfg := mpeg4audio.AudioSpecificConfig(audio.Codec.(*tscodecs.MPEG4Audio).Config)
		desc.Medias = append(desc.Medias, &description.Media{Type: description.MediaTypeAudio,
			Formats: []format.Format{&format.MPEG4Audio{PayloadTyp: 97, Config: &cfg, SizeLength: 13, IndexLength: 3, IndexDeltaLength: 3}}})
	}
	return desc, nil
}

// publishClips writes the clips' frames to stream in real time until ctx
// is done; RTP timestamps keep increasing from clip to clip.
func publishClips(ctx context.Context, stream *gortsplib.ServerStream, clips [][]byte, start time.Time, paused *atomic.Bool, mutate func(int, [][]byte) [][]byte) {
	videoMedia := stream.Desc.Medias[0]
	var audioMedia *description.Media
	if len(stream.Desc.Medias) > 1 {
		if _, ok := stream.Desc.Medias[1].Formats[0].(*format.MPEG4Audio); ok {
			audioMedia = stream.Desc.Medias[1]
		}
	}
	type encoder interface {
		Encode([][]byte) ([]*rtp.Packet, error)
	}
	var videoEnc encoder
	var err error
	switch f := videoMedia.Formats[0].(type) {
	case *format.H264:
		videoEnc, err = f.CreateEncoder()
	case *format.H265:
		videoEnc, err = f.CreateEncoder()
	}
	if err != nil {
		panic(err)
	}
	var audioEnc encoder
	var audioRate int64
	if audioMedia != nil {
		f := audioMedia.Formats[0].(*format.MPEG4Audio)
		audioEnc, _ = f.CreateEncoder()
		audioRate = int64(f.ClockRate())
	}
	var clock int64 // 90 kHz
	sent := 0       // video access units
	for i := 0; ctx.Err() == nil; i++ {
		r := &mpegts.Reader{R: bufio.NewReader(bytes.NewReader(clips[i%len(clips)]))}
		if r.Initialize() != nil {
			return
		}
		video, audio := clipTracks(r)
		var td mpegts.TimeDecoder
		td.Initialize()
		first, started, end := int64(0), false, clock
		at := func(ts int64) (int64, bool) {
			ts = td.Decode(ts)
			if !started {
				first, started = ts, true
			}
			t := clock + ts - first
			select {
			case <-ctx.Done():
				return 0, false
			case <-time.After(time.Until(start.Add(fromClock(t, 90000)))):
			}
			return t, true
		}
		send := func(media *description.Media, enc encoder, ts uint32, data [][]byte) error {
			pkts, err := enc.Encode(data)
			if err != nil {
				return err
			}
			for _, p := range pkts {
				// Encoders number packets from 0 within a call: audio
				// packets of one call are a frame length apart.
				p.Timestamp += ts
				if !paused.Load() {
					stream.WritePacketRTP(media, p)
				}
			}
			return nil
		}
		lastVideo := int64(-1)
		onVideo := func(pts, dts int64, au [][]byte) error {
			t, ok := at(dts)
			if !ok {
				return ctx.Err()
			}
			if lastVideo >= 0 {
				end = max(end, t+t-lastVideo)
			}
			lastVideo = t
			if mutate != nil {
				au = mutate(sent, au)
			}
			sent++
			return send(videoMedia, videoEnc, uint32(t+pts-dts), au)
		}
		if _, ok := video.Codec.(*tscodecs.H265); ok {
			r.OnDataH265(video, onVideo)
		} else {
			r.OnDataH264(video, onVideo)
		}
		if audio != nil && audioMedia != nil {
			r.OnDataMPEG4Audio(audio, func(pts int64, aus [][]byte) error {
				t, ok := at(pts)
				if !ok {
					return ctx.Err()
				}
				return send(audioMedia, audioEnc, uint32(t*audioRate/90000), aus)
			})
		}
		for {
			if err := r.Read(); err != nil {
				if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
					return
				}
				break
			}
		}
		clock = end
	}
}

// publishG711 sends G.711 audio, looped, in 20 ms packets on the same
// clock as the video, until ctx is done.
func publishG711(ctx context.Context, stream *gortsplib.ServerStream, audio []byte, start time.Time, paused *atomic.Bool) {
	media := stream.Desc.Medias[1]
	enc, err := media.Formats[0].(*format.G711).CreateEncoder()
	if err != nil {
		panic(err)
	}
	const packet = 160 // samples: 20 ms at 8 kHz
	loop := int64(len(audio) - len(audio)%packet)
	for n := int64(0); ; n += packet {
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Until(start.Add(time.Duration(n) * time.Second / 8000))):
		}
		off := n % loop
		pkts, err := enc.Encode(audio[off : off+packet])
		if err != nil {
			panic(err)
		}
		for _, p := range pkts {
			p.Timestamp += uint32(n)
			if !paused.Load() {
				stream.WritePacketRTP(media, p)
			}
		}
	}
}

// makeClip encodes a clip with ffmpeg's test sources, once per test run.
// args are the encoder's; the clip is MPEG-TS.
func makeClip(t testing.TB, name string, args ...string) []byte {
	t.Helper()
	return makeMedia(t, name, "mpegts", args...)
}

// makeMedia encodes with ffmpeg's test sources into the container or raw
// format named, once per test run.
func makeMedia(t testing.TB, name, format string, args ...string) []byte {
	t.Helper()
	requireFFmpeg(t)
	clipsMu.Lock()
	defer clipsMu.Unlock()
	if clip, ok := clips[name]; ok {
		return clip
	}
	path := filepath.Join(clipsDir(t), name+"."+format)
	cmd := exec.Command("ffmpeg", append(append([]string{"-v", "error", "-y"}, args...), "-f", format, path)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg %s: %v\n%s", name, err, out)
	}
	clip, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	clips[name] = clip
	return clip
}

var (
	clipsMu   sync.Mutex
	clips     = map[string][]byte{}
	clipsPath string
)

// clipsDir is a directory for clips that lasts the whole test run.
func clipsDir(t testing.TB) string {
	if clipsPath == "" {
		dir, err := os.MkdirTemp("", "decoder-clips-")
		if err != nil {
			t.Fatal(err)
		}
		clipsPath = dir
	}
	return clipsPath
}

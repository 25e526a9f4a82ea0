package main

// flacBlocksPerSecond sets the length of a FLAC frame decoder makes: 20 ms, the
// usual length of a camera's audio packet, so that conversion adds no
// more than that to the latency.
const flacBlocksPerSecond = 50

// flacStream makes FLAC of a source's G.711 or L16 audio, in decoder
// itself, keeping the source's timeline: frames of a fixed block size,
// whatever the size of the packets. A gap in the source starts the blocks
// afresh. Only the converter's goroutine uses it.
type flacStream struct {
	pcm     pcmFormat
	enc     *flacEncoder
	out     *audioSetup
	samples []int16
	// next is where, in samples on the source's timeline, the audio the
	// encoder holds ends; -1 before any.
	next int64
}

// newFLACStream is a flacStream for the source track a, which must be
// G.711 or L16 (planOutput sees to it).
func newFLACStream(a *audioSetup) *flacStream {
	f := &flacStream{pcm: a.pcm, next: -1}
	f.restart()
	info := f.enc.streamInfo()
	f.out = &audioSetup{format: audioFLAC, rate: a.rate, channels: a.channels, flac: &info}
	return f
}

// setup is the FLAC track the stream makes.
func (f *flacStream) setup() *audioSetup { return f.out }

// restart drops what the encoder holds: what follows does not continue it.
func (f *flacStream) restart() {
	block := max(16, f.pcm.SampleRate/flacBlocksPerSecond)
	f.enc, _ = newFLACEncoder(f.pcm.SampleRate, max(f.pcm.Channels, 1), block)
	f.next = -1
}

// encode takes a unit of the source's audio and returns the FLAC frames it
// completes, and where the first of them starts on the source's timeline.
func (f *flacStream) encode(u *audioUnit) ([]audioFrame, int64) {
	if f.next >= 0 && u.pts != f.next {
		f.restart()
	}
	f.samples = f.samples[:0]
	count := 0
	for _, fr := range u.frames {
		var err error
		if f.samples, err = f.pcm.decode(f.samples, fr.data); err != nil {
			f.restart()
			return nil, 0
		}
		count += fr.samples
	}
	f.next = u.pts + int64(count)
	data, lead, err := f.enc.write(f.samples)
	if err != nil {
		f.restart()
		return nil, 0
	}
	frames := make([]audioFrame, len(data))
	for i, d := range data {
		frames[i] = audioFrame{data: d, samples: f.enc.blockSize}
	}
	return frames, u.pts - int64(lead)
}

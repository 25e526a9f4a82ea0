package main

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/flac"
)

// FLAC (RFC 9639) is how decoder hands browsers the 16-bit PCM of cameras'
// G.711 and L16 audio: Media Source Extensions play it from fMP4, it is
// lossless, and an encoder of FIXED predictors and Rice codes is small
// enough to write here rather than run ffmpeg per camera.

const (
	flacBitsPerSample     = 16
	flacMaxFixedOrder     = 4
	flacMaxPartitionOrder = 6  // 64 partitions: more cost more in parameters than they save on live-sized blocks
	flacMaxRiceParam      = 14 // with 4-bit parameters, as 15 is the escape code
	flacEscape            = 15
	flacMaxSampleRate     = 655350 // the largest rate a frame header can spell (in tens of Hz)
	flacMaxFrameNumber    = 1<<31 - 1
)

// Subframe kinds, as their 6-bit type codes (RFC 9639 §9.2.1).
const (
	flacConstant = 0b000000
	flacVerbatim = 0b000001
	flacFixed    = 0b001000 // plus the predictor order
)

// flacEncoder codes one stream's interleaved 16-bit samples as FLAC
// frames of a fixed block size, each frame one fMP4 sample. It is not safe
// for concurrent use.
type flacEncoder struct {
	sampleRate, channels, blockSize int
	rateCode                        byte                           // the frame header's sample rate code
	rateExtra                       []byte                         // and the bytes it takes at the header's end
	frame                           uint32                         // the next frame's number
	ended                           bool                           // a short block was encoded, which only the last may be
	pending                         []int16                        // what write holds until a block is full
	scratch                         []byte                         // where write encodes frames
	x                               []int32                        // one channel of the block
	res                             [flacMaxFixedOrder + 1][]int32 // each fixed order's residual, indexed by sample
	w                               flacBitWriter
}

// newFLACEncoder is an encoder for blocks of blockSize samples a channel,
// which is at least 16 (STREAMINFO's minimum) and at most 65535.
func newFLACEncoder(sampleRate, channels, blockSize int) (*flacEncoder, error) {
	switch {
	case sampleRate < 1 || sampleRate > flacMaxSampleRate:
		return nil, fmt.Errorf("FLAC: sample rate %d Hz out of range", sampleRate)
	case channels < 1 || channels > 8:
		return nil, fmt.Errorf("FLAC: %d channels (1 to 8)", channels)
	case blockSize < 16 || blockSize > 65535:
		return nil, fmt.Errorf("FLAC: block size %d out of range (16 to 65535)", blockSize)
	}
	e := &flacEncoder{sampleRate: sampleRate, channels: channels, blockSize: blockSize, x: make([]int32, blockSize)}
	e.rateCode, e.rateExtra = flacSampleRateCode(sampleRate)
	for i := range e.res {
		e.res[i] = make([]int32, blockSize)
	}
	return e, nil
}

// streamInfo is the STREAMINFO block for the init segment's dfLa box. A
// live stream's length, frame sizes and MD5 are unknown, which zeros say.
func (e *flacEncoder) streamInfo() flac.StreamInfo {
	return flac.StreamInfo{
		MinBlockSize: uint16(e.blockSize),
		MaxBlockSize: uint16(e.blockSize),
		SampleRate:   uint32(e.sampleRate),
		ChannelCount: uint8(e.channels),
		BitDepth:     flacBitsPerSample,
	}
}

// write takes the next samples, of any length, and returns the frames of
// the blocks they complete; the first of them starts lead samples a
// channel before samples[0], from what earlier calls left over. The
// muxer's clock needs lead; packets' sizes need not match the block size.
func (e *flacEncoder) write(samples []int16) (frames [][]byte, lead int, err error) {
	if len(samples)%e.channels != 0 {
		return nil, 0, fmt.Errorf("FLAC: %d samples are not whole for %d channels", len(samples), e.channels)
	}
	lead = len(e.pending) / e.channels
	e.pending = append(e.pending, samples...)
	block, done := e.blockSize*e.channels, 0
	for ; len(e.pending)-done >= block; done += block {
		if e.scratch, err = e.encodeFrame(e.scratch[:0], e.pending[done:done+block]); err != nil {
			return frames, lead, err
		}
		frames = append(frames, bytes.Clone(e.scratch)) // one allocation of the frame's size
	}
	e.pending = e.pending[:copy(e.pending, e.pending[done:])]
	return frames, lead, nil
}

// encodeFrame appends one frame of interleaved samples to dst: a full
// block, or a shorter one that ends the stream (RFC 9639 allows it only
// last, so any frame after it is refused).
func (e *flacEncoder) encodeFrame(dst []byte, samples []int16) ([]byte, error) {
	n := len(samples) / e.channels
	switch {
	case len(samples)%e.channels != 0 || n < 1 || n > e.blockSize:
		return dst, fmt.Errorf("FLAC: %d samples are not a block of %d channels", len(samples), e.channels)
	case e.ended:
		return dst, errors.New("FLAC: a short block already ended the stream")
	}
	e.ended = n < e.blockSize
	start := len(dst)
	dst = e.appendHeader(dst, n)
	e.w.buf = dst
	for c := range e.channels {
		x := e.x[:n]
		for i := range x {
			x[i] = int32(samples[i*e.channels+c])
		}
		e.writeSubframe(x)
	}
	e.w.pad()
	dst, e.w.buf = e.w.buf, nil
	crc := flacCRC16(dst[start:])
	e.frame = (e.frame + 1) & flacMaxFrameNumber // wraps after 497 days of 20 ms blocks
	return append(dst, byte(crc>>8), byte(crc)), nil
}

// appendHeader appends the frame header of an n-sample block (RFC 9639
// §9.1): fixed-blocksize strategy, so the coded number is the frame's.
func (e *flacEncoder) appendHeader(dst []byte, n int) []byte {
	start := len(dst)
	sizeCode := flacBlockSizeCode(n)
	const sampleSize16 = 0b100
	dst = append(dst, 0xFF, 0xF8, sizeCode<<4|e.rateCode, byte(e.channels-1)<<4|sampleSize16<<1)
	dst = appendFLACNumber(dst, e.frame)
	switch sizeCode {
	case 0b0110:
		dst = append(dst, byte(n-1))
	case 0b0111:
		dst = append(dst, byte((n-1)>>8), byte(n-1))
	}
	dst = append(dst, e.rateExtra...)
	return append(dst, flacCRC8(dst[start:]))
}

// flacBlockSizeCodes are the frame header's codes for the block sizes
// that have one (RFC 9639 §9.1.1).
var flacBlockSizeCodes = map[int]byte{192: 1, 576: 2, 1152: 3, 2304: 4, 4608: 5,
	256: 8, 512: 9, 1024: 10, 2048: 11, 4096: 12, 8192: 13, 16384: 14, 32768: 15}

// flacBlockSizeCode is the header's code for n samples: 0b0110 and
// 0b0111 stand for n-1 in 1 or 2 bytes at the header's end.
func flacBlockSizeCode(n int) byte {
	if code, ok := flacBlockSizeCodes[n]; ok {
		return code
	}
	if n <= 256 {
		return 0b0110
	}
	return 0b0111
}

// flacSampleRateCodes are the frame header's codes for the sample rates
// that have one (RFC 9639 §9.1.2).
var flacSampleRateCodes = map[int]byte{88200: 1, 176400: 2, 192000: 3, 8000: 4, 16000: 5, 22050: 6,
	24000: 7, 32000: 8, 44100: 9, 48000: 10, 96000: 11}

// flacSampleRateCode is the header's code for a sample rate and the bytes
// it takes at the header's end where no code stands for the rate. A rate
// no code can spell is left to STREAMINFO (code 0).
func flacSampleRateCode(rate int) (byte, []byte) {
	switch code, ok := flacSampleRateCodes[rate]; {
	case ok:
		return code, nil
	case rate%1000 == 0 && rate/1000 <= 255:
		return 0b1100, []byte{byte(rate / 1000)}
	case rate <= 65535:
		return 0b1101, []byte{byte(rate >> 8), byte(rate)}
	case rate%10 == 0:
		return 0b1110, []byte{byte(rate / 10 >> 8), byte(rate / 10)}
	}
	return 0, nil
}

// appendFLACNumber appends v, below 2^31, coded the way UTF-8 codes
// characters, as frame headers carry their number (RFC 9639 §9.1.5).
func appendFLACNumber(dst []byte, v uint32) []byte {
	if v < 0x80 {
		return append(dst, byte(v))
	}
	more := 1 // continuation bytes, of 6 bits each; the first byte has 6-more
	for v >= 1<<(5*more+6) {
		more++
	}
	dst = append(dst, ^byte(0xFF>>(more+1))|byte(v>>(6*more)))
	for i := more - 1; i >= 0; i-- {
		dst = append(dst, 0x80|byte(v>>(6*i))&0x3F)
	}
	return dst
}

// flacCRC8Table and flacCRC16Table drive the frame header's CRC-8
// (polynomial x^8+x^2+x+1) and the frame's CRC-16 (x^16+x^15+x^2+1), both
// starting at zero, by which decoders find frames they can trust.
var flacCRC8Table, flacCRC16Table = func() (t8 [256]uint8, t16 [256]uint16) {
	for i := range 256 {
		c8, c16 := uint8(i), uint16(i)<<8
		for range 8 {
			c8 = c8<<1 ^ uint8(0x07*(c8>>7))
			c16 = c16<<1 ^ 0x8005*(c16>>15)
		}
		t8[i], t16[i] = c8, c16
	}
	return t8, t16
}()

// flacCRC8 is the CRC-8 of a frame header.
func flacCRC8(b []byte) uint8 {
	var c uint8
	for _, v := range b {
		c = flacCRC8Table[c^v]
	}
	return c
}

// flacCRC16 is the CRC-16 of a frame up to its CRC.
func flacCRC16(b []byte) uint16 {
	var c uint16
	for _, v := range b {
		c = c<<8 ^ flacCRC16Table[byte(c>>8)^v]
	}
	return c
}

package main

import (
	"encoding/binary"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
)

// Flags of the boxes of a fragment, as mediacommon writes them.
const (
	tfhdDefaultBaseIsMoof = 0x020000
	trunDataOffset        = 0x000001
	trunSampleDuration    = 0x000100
	trunSampleSize        = 0x000200
	trunSampleFlags       = 0x000400
	trunSampleCTO         = 0x000800
	sampleNonSync         = 1 << 16
)

// appendFragment appends to dst one moof+mdat holding samples of one
// track, byte for byte what mediacommon's fmp4.Part.Marshal writes for
// them: every frame of every source is muxed so, and the box library
// behind Marshal spends most of its time in reflection.
func appendFragment(dst []byte, seq uint32, track int, baseTime uint64, samples []*fmp4.Sample) []byte {
	flags := uint32(trunDataOffset | trunSampleDuration | trunSampleSize)
	payload := 0
	for _, s := range samples {
		if s.IsNonSyncSample {
			flags |= trunSampleFlags
		}
		if s.PTSOffset != 0 {
			flags |= trunSampleCTO
		}
		payload += len(s.Payload)
	}
	entry := 8
	if flags&trunSampleFlags != 0 {
		entry += 4
	}
	if flags&trunSampleCTO != 0 {
		entry += 4
	}
	trunSize := 20 + entry*len(samples)
	trafSize := 8 + 16 + 20 + trunSize
	moofSize := 8 + 16 + trafSize

	be := binary.BigEndian
	dst = be.AppendUint32(dst, uint32(moofSize))
	dst = append(dst, "moof"...)
	dst = be.AppendUint32(dst, 16)
	dst = append(dst, "mfhd"...)
	dst = be.AppendUint32(dst, 0)
	dst = be.AppendUint32(dst, seq)
	dst = be.AppendUint32(dst, uint32(trafSize))
	dst = append(dst, "traf"...)
	dst = be.AppendUint32(dst, 16)
	dst = append(dst, "tfhd"...)
	dst = be.AppendUint32(dst, tfhdDefaultBaseIsMoof)
	dst = be.AppendUint32(dst, uint32(track))
	dst = be.AppendUint32(dst, 20)
	dst = append(dst, "tfdt"...)
	dst = be.AppendUint32(dst, 1<<24) // version 1
	dst = be.AppendUint64(dst, baseTime)
	dst = be.AppendUint32(dst, uint32(trunSize))
	dst = append(dst, "trun"...)
	dst = be.AppendUint32(dst, 1<<24|flags)
	dst = be.AppendUint32(dst, uint32(len(samples)))
	dst = be.AppendUint32(dst, uint32(moofSize+8)) // the data begins after mdat's header
	for _, s := range samples {
		dst = be.AppendUint32(dst, s.Duration)
		dst = be.AppendUint32(dst, uint32(len(s.Payload)))
		if flags&trunSampleFlags != 0 {
			var f uint32
			if s.IsNonSyncSample {
				f = sampleNonSync
			}
			dst = be.AppendUint32(dst, f)
		}
		if flags&trunSampleCTO != 0 {
			dst = be.AppendUint32(dst, uint32(s.PTSOffset))
		}
	}
	dst = be.AppendUint32(dst, uint32(8+payload))
	dst = append(dst, "mdat"...)
	for _, s := range samples {
		dst = append(dst, s.Payload...)
	}
	return dst
}

// fragmentSize is the size appendFragment gives samples, for allocating
// once.
func fragmentSize(samples []*fmp4.Sample) int {
	n := 8 + 16 + 8 + 16 + 20 + 20 + 8
	for _, s := range samples {
		n += 16 + len(s.Payload)
	}
	return n
}
